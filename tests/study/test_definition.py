"""A sweep definition: every value it accepts is written and read back as it was, and a
value that is not meaningful in the program's float32 is refused, naming its key."""

import json
import math

import numpy as np
import pytest
from cli_helpers import TINY_SWEEP, killed_after_first_checkpoint, one_line_error, run_in_process

import jaxmadrl
from jaxmadrl.core import files
from jaxmadrl.core.limits import SettingError
from jaxmadrl.core.paths import SWEEPS_DIR
from jaxmadrl.study import settings
from jaxmadrl.study.definition import SweepDefinition, load_definition

TINY = dict(n_agents=3, steps_per_episode=3, episodes=6, chunk=3)
BASE = {"name": "round-trip", "actor_lrs": [1e-3, 1e-1], "critic_lrs": [1e-2]}
CANDIDATES = (math.inf, -math.inf, 0.0, 1e-30, 1e-3, 0.5, 1.0, 3.0, 1e30)


def written_and_read(definition: SweepDefinition) -> SweepDefinition:
    """Through the JSON text of ``sweep.json``."""
    return SweepDefinition.from_dict(json.loads(files.json_text(definition.to_dict())))


def accepted(values: dict) -> SweepDefinition | None:
    try:
        return SweepDefinition.from_dict(values)
    except SettingError:
        return None


def test_every_value_a_definition_accepts_round_trips():
    """Over every real-valued setting and a ladder of values including ±inf: the flat
    settings, and the traced ones in ``mitigations`` and in a variant."""
    kept = 0
    for name, setting in settings.ALL.items():
        if setting.kind not in ("float", "switch"):
            continue
        for value in CANDIDATES:
            traced = {name: value}
            forms = (
                [{**BASE, "mitigations": traced}, {**BASE, "variants": {"a": traced, "b": {}}}]
                if setting.holder == "traced"
                else [{**BASE, name: value}]
            )
            for form in forms:
                definition = accepted(form)
                if definition is not None:
                    assert written_and_read(definition) == definition, (name, value)
                    kept += 1
    assert kept > 100  # the ladder is accepted for most settings
    for clip in ("actor_grad_clip", "critic_grad_clip"):  # inf, "off", is the default and round-trips
        assert written_and_read(SweepDefinition.from_dict({**BASE, "mitigations": {clip: math.inf}})).mitigations == {
            clip: math.inf
        }


def test_a_definition_with_its_defaults_round_trips_through_the_file():
    definition = SweepDefinition.from_dict(BASE)
    assert written_and_read(definition) == definition
    assert json.loads(files.json_text(definition.to_dict())) == json.loads(json.dumps(definition.to_dict()))


@pytest.mark.parametrize(
    "values, key",
    [
        ({"actor_lrs": [1e39]}, "actor_lrs"),  # inf in float32
        ({"actor_lrs": [1e-50]}, "actor_lrs"),  # 0 in float32: the lanes would look "stopped"
        ({"critic_lrs": [1e-39]}, "critic_lrs"),  # subnormal in float32
        ({"actor_lrs": [1e-3, 0.001]}, "actor_lrs"),  # one configuration twice
        ({"critic_lrs": [0.1, 0.1 + 1e-12]}, "critic_lrs"),  # distinct in float64, equal in float32
        ({"epsilon_decay": 0}, "epsilon_decay"),
        ({"epsilon_start": -1}, "epsilon_start"),
        ({"server_compute_ghz": -4}, "server_compute_ghz"),
        ({"lambda_energy": math.inf}, "lambda_energy"),
        ({"k_energy_local": -1}, "k_energy_local"),
        ({"min_size_mb": 60.0}, "min_size_mb"),  # above max_size_mb
        ({"bandwidth_mhz": math.nan}, "bandwidth_mhz"),
        ({"mitigations": {"reward_scale": math.nan}}, "mitigations.reward_scale"),
        ({"mitigations": {"output_lr_multiplier": 1e39}}, "mitigations.output_lr_multiplier"),
        ({"mitigations": {"gamma": 1.5}}, "mitigations.gamma"),
        ({"variants": {"a": {"actor_grad_clip": 0}}}, "variants.a.actor_grad_clip"),
        ({"mitigations": {"critic_grad_clip": "off"}}, "mitigations.critic_grad_clip"),
    ],
)
def test_a_value_not_meaningful_in_float32_is_refused_naming_its_key(values, key):
    with pytest.raises(SettingError) as refused:
        SweepDefinition.from_dict({**BASE, **values})
    assert refused.value.setting == key


@pytest.mark.parametrize(
    "flag, fragment",
    [
        ("--bandwidth_mhz=nan", "--bandwidth_mhz must be finite and > 0"),
        ("--actor_lrs=1e-50", "--actor_lrs is 1e-50"),
        ("--actor_lrs=1e-3,0.001", "--actor_lrs lists 0.001 twice"),
        ("--epsilon_decay=0", "--epsilon_decay must be finite and > 0"),
    ],
)
@pytest.mark.slow
def test_the_command_refuses_it_before_writing_anything(tmp_path, flag, fragment):
    out = tmp_path / "run"
    one_line_error(run_in_process("jaxmadrl.sweep", *TINY_SWEEP, flag, f"--out={out}"), 2, fragment)
    assert not out.exists()


@pytest.mark.slow
def test_a_sweep_file_key_is_named_as_in_the_file(tmp_path):
    study = tmp_path / "study.json"
    study.write_text(json.dumps({**BASE, "server_compute_ghz": -4, "n_agents": 3}))
    result = run_in_process("jaxmadrl.sweep", f"--sweep={study}", f"--out={tmp_path / 'run'}")
    one_line_error(result, 2, '"server_compute_ghz" must be finite and > 0')


@pytest.mark.slow
def test_a_run_with_infinite_clipping_is_killed_resumed_and_read(tmp_path):
    """inf ("off") in sweep.json: the killed run resumes from its own file, finishes, and
    its summary reads back (``load_run``)."""
    out = tmp_path / "run"
    clips = ["--actor_grad_clip=inf", "--critic_grad_clip=inf", "--episodes=12"]
    killed_after_first_checkpoint("jaxmadrl.sweep", out, *TINY_SWEEP, *clips)
    resumed = run_in_process("jaxmadrl.sweep", f"--resume={out}")
    assert resumed.returncode == 0, resumed.stderr
    run = jaxmadrl.load_run(out)
    assert run.definition.mitigations == {"actor_grad_clip": math.inf, "critic_grad_clip": math.inf}


def test_named_definitions_load():
    all16 = load_definition("all16")
    assert len(all16.lanes()) == 16 and all16.episodes == 2000 and all16.seeds == 1
    assert load_definition("all16-5seeds").seeds == 5
    with pytest.raises(ValueError, match="no sweep definition"):
        load_definition("nonexistent")
    for path in SWEEPS_DIR.glob("*.json"):  # every named sweep is valid
        definition = load_definition(path.stem)
        assert definition.hyperparams().actor_lr.shape == (len(definition.lanes()),)
    # The hidden LayerNorms are built only into a program with a lane that uses them.
    assert not all16.train_config().hidden_norm_layers
    assert load_definition("mitigations").train_config().hidden_norm_layers


def test_mitigations_apply_to_every_lane():
    definition = SweepDefinition.from_dict(
        dict(
            name="t",
            actor_lrs=(1e-3, 1e-1),
            critic_lrs=(1e-2,),
            seeds=2,
            **TINY,
            mitigations={"layer_norm": 1, "output_activation": 1, "actor_grad_clip": 5.0},
        )
    )
    hparams = definition.hyperparams()
    np.testing.assert_array_equal(hparams.layer_norm, [1.0] * 4)
    np.testing.assert_array_equal(hparams.output_activation, [1] * 4)
    assert hparams.output_activation.dtype == np.int32
    np.testing.assert_array_equal(hparams.actor_grad_clip, [5.0] * 4)
    np.testing.assert_array_equal(hparams.critic_grad_clip, [np.inf] * 4)
    np.testing.assert_array_equal(hparams.actor_lr, np.float32([1e-3, 1e-1, 1e-3, 1e-1]))
    with pytest.raises(ValueError, match="unknown settings"):
        SweepDefinition.from_dict(dict(name="t", actor_lrs=(1e-3,), critic_lrs=(1e-3,), mitigations={"dropout": 0.5}))
    with pytest.raises(ValueError, match="layer_norm"):
        SweepDefinition.from_dict(dict(name="t", actor_lrs=(1e-3,), critic_lrs=(1e-3,), mitigations={"layer_norm": 2}))


def test_variant_settings_override_the_shared_ones():
    definition = SweepDefinition.from_dict(
        dict(
            name="t",
            actor_lrs=(1e-3,),
            critic_lrs=(1e-3,),
            **TINY,
            mitigations={"layer_norm": 1, "actor_grad_clip": 2.0},
            variants={"plain": {"layer_norm": 0}, "shared": {}},
        )
    )
    hparams = definition.hyperparams()
    np.testing.assert_array_equal(hparams.layer_norm, [0.0, 1.0])
    np.testing.assert_array_equal(hparams.actor_grad_clip, [2.0, 2.0])
    assert SweepDefinition.from_dict(dict(name="t", actor_lrs=(1e-3,), critic_lrs=(1e-3,))).variants == {"default": {}}
    mitigations = load_definition("mitigations")
    assert len(mitigations.lanes()) == 16 * len(mitigations.variants)
    assert mitigations.variants["softsign"] == {"output_activation": 1}


PENDULUM = {**BASE, "domain": "Pendulum-v1"}


@pytest.mark.parametrize(
    "values, key, fragment",
    [
        ({"learner": "td3"}, "learner", "'td3' does not train in domain 'mec'"),
        ({**PENDULUM, "learner": "ccm"}, "learner", "'ccm' does not train in domain 'Pendulum-v1'"),
        ({**PENDULUM, "learner": "ppo2"}, "learner", "must be one of"),
        ({**PENDULUM, "mitigations": {"policy_delay": 1}}, "variants.default.policy_delay", "only by td3"),
        ({"mitigations": {"entropy_temperature": 0.1}}, "variants.default.entropy_temperature", "only by sac"),
        (
            {**PENDULUM, "learner": "sac", "variants": {"soft": {"output_activation": "softsign"}}},
            "variants.soft.output_activation",
            "not implemented by learner 'sac'",
        ),
        ({**PENDULUM, "learner": "td3", "mitigations": {"policy_delay": 1.5}}, "mitigations.policy_delay", "integer"),
        ({**PENDULUM, "mitigations": {"full_normalisation": 1}}, "variants.default.full_normalisation", "only by ccm"),
        ({**PENDULUM, "rollout_envs": 4}, "rollout_envs", "applies only to learner ppo, not 'ddpg'"),
        ({**PENDULUM, "learner": "ppo", "minibatches": 7}, "minibatches", "must divide the rollout's 1600 samples"),
        (  # the rollout of episodes shortened by episode_length
            {**PENDULUM, "learner": "ppo", "episode_length": 50, "minibatches": 32},
            "minibatches",
            "must divide the rollout's 400 samples",
        ),
        ({**PENDULUM, "learner": "ppo", "policy_mean": "sigmoid"}, "policy_mean", "must be one of"),
        ({**PENDULUM, "learner": "ppo", "mitigations": {"gae_lambda": 1.5}}, "mitigations.gae_lambda", "[0, 1]"),
        ({"mitigations": {"entropy_coef": 0.1}}, "variants.default.entropy_coef", "with stochastic_actors"),
        (
            {"stochastic_actors": True, "variants": {"s": {"output_activation": "softsign"}}},
            "variants.s.output_activation",
            "deterministic actors",
        ),
        ({**PENDULUM, "stochastic_actors": True}, "stochastic_actors", "applies only to learner ccm"),
    ],
)
def test_a_learner_refuses_what_it_does_not_implement(values, key, fragment):
    with pytest.raises(SettingError) as refused:
        SweepDefinition.from_dict({**BASE, **values})
    assert refused.value.setting == key and fragment in refused.value.problem, refused.value


def test_each_learner_accepts_its_own_settings():
    for learner, own in (
        ("td3", {"policy_delay": 1, "target_noise": 0.0}),
        ("sac", {"learned_temperature": 0}),
        ("ppo", {"entropy_coef": 0.01, "clip_ratio": 0.1}),
    ):
        definition = SweepDefinition.from_dict({**PENDULUM, "learner": learner, "variants": {"own": own, "plain": {}}})
        assert written_and_read(definition) == definition and definition.train.learner_name == learner
    assert SweepDefinition.from_dict(PENDULUM).train.learner_name == "ddpg"
    assert SweepDefinition.from_dict(BASE).train.learner_name == "ccm"


def test_variants_of_other_sizes_are_lanes_of_one_masked_program():
    """Variants that set actor_hidden / critic_hidden: the program at the widest width of each
    layer, each lane's units per layer among its hyperparameters, and the flat form keeps them."""
    definition = SweepDefinition.from_dict(
        {
            **PENDULUM,
            "actor_hidden": [8, 8],
            "critic_hidden": [16, 16],
            "variants": {"small": {"actor_hidden": [2, 3], "critic_hidden": [4, 4]}, "wide": {"actor_hidden": [8, 12]}},
        }
    )
    config = definition.train_config()
    assert config.masked_sizes and config.actor_hidden == (8, 12) and config.critic_hidden == (16, 16)
    assert definition.sizes("wide") == {"actor_hidden": (8, 12), "critic_hidden": (16, 16)}
    hparams, per_variant = definition.hyperparams(), len(definition.lanes()) // 2  # lanes: variant-major
    np.testing.assert_array_equal(hparams.actor_units, np.repeat([[2, 3], [8, 12]], per_variant, axis=0))
    np.testing.assert_array_equal(hparams.critic_units, np.repeat([[4, 4], [16, 16]], per_variant, axis=0))
    assert written_and_read(definition) == definition
    plain = SweepDefinition.from_dict(PENDULUM)
    assert not plain.train_config().masked_sizes and plain.hyperparams().actor_units == ()


@pytest.mark.parametrize(
    "values, key, fragment",
    [
        ({"variants": {"s": {"actor_hidden": [4, 4]}}}, "variants.s.actor_hidden", "outside MEC"),
        ({**PENDULUM, "variants": {"s": {"actor_hidden": [4]}}}, "variants.s.actor_hidden", "as many layers"),
        ({**PENDULUM, "variants": {"s": {"critic_hidden": [4, 0]}}}, "variants.s.critic_hidden", "integers in [1, "),
        (
            {**PENDULUM, "variants": {"s": {"actor_hidden": [4, 4], "linear_hidden": 1}}},
            "variants.s.linear_hidden",
            "cannot be combined with sizes",
        ),
        ({**PENDULUM, "mitigations": {"actor_hidden": [4, 4]}}, "mitigations", "unknown settings ['actor_hidden']"),
    ],
)
def test_sizes_a_program_cannot_mask_are_refused_naming_the_variant(values, key, fragment):
    with pytest.raises(SettingError) as refused:
        SweepDefinition.from_dict({**BASE, **values})
    assert refused.value.setting == key and fragment in refused.value.problem, refused.value
