"""Run a grid of configurations as one compiled program, with progress, checkpoints and resume.

    python -m jaxmadrl.sweep --all-16                # the paper's 4×4 learning-rate grid
    python -m jaxmadrl.sweep --sweep all16-5seeds    # a named definition in jaxmadrl/sweeps/
    python -m jaxmadrl.sweep --sweep mitigations     # 4×4 grid × each mitigation, one program
    python -m jaxmadrl.sweep --actor_lrs=1e-3,1e-1 --critic_lrs=1e-3 --seeds=3 --episodes=500
    python -m jaxmadrl.sweep --resume sweeps/runs/all16-20261122-101500
    python -m jaxmadrl.sweep --sweep mitigations --shard 0/4 --out RUN   # one of 4 shards (cluster)
    python -m jaxmadrl.sweep --merge RUN                                 # join the finished shards

The run folder (its files, lock, checkpoints and resume) is described in ``run_folder``;
a sweep split into shards, e.g. over the tasks of a SLURM job array, in ``shards``. Every
lane runs the same compiled chunk program (vmapped over lanes). ``--lanes_per_call`` sets
how many lanes one call takes; on the CPU the default, one lane per call with a call per
core at a time, is ~1.5× faster than one call over all lanes (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import os
import pathlib
import time

import jax
import numpy as np
from absl import flags, logging

from jaxmadrl.cli import common, failing
from jaxmadrl.core import files
from jaxmadrl.core.limits import SettingError
from jaxmadrl.store import loading, names, run_folder, runs, shards
from jaxmadrl.study import results, settings
from jaxmadrl.study.definition import PAPER_LRS, SweepDefinition, load_definition, normalised_traced_settings

FLAGS = flags.FlagValues()  # the command's own flags (``failing.parse_flags``)
flags.DEFINE_bool(
    "all-16",
    False,
    "The paper's grid: actor LRs × critic LRs in {1e-4, 1e-3, 1e-2, 1e-1}, "
    "2000 episodes, 1 seed (the named sweep 'all16').",
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "sweep", None, "A named sweep of jaxmadrl/sweeps/ (e.g. all16, all16-5seeds) or a JSON file.", flag_values=FLAGS
)
flags.DEFINE_string("name", None, "Name of the sweep (used in the default --out).", flag_values=FLAGS)
flags.DEFINE_list(
    "actor_lrs",
    [f"{lr:g}" for lr in PAPER_LRS],
    "Actor learning rates (comma-separated, finite, > 0).",
    flag_values=FLAGS,
)
flags.DEFINE_list(
    "critic_lrs",
    [f"{lr:g}" for lr in PAPER_LRS],
    "Critic learning rates (comma-separated, finite, > 0).",
    flag_values=FLAGS,
)
flags.DEFINE_integer(
    "seeds", 1, "Seeds per configuration (lanes = seeds × variants × actor LRs × critic LRs).", flag_values=FLAGS
)
flags.DEFINE_integer("first_seed", 0, "The first seed (seeds first_seed … first_seed + seeds - 1).", flag_values=FLAGS)
flags.DEFINE_list(
    "variants", None, "Run only these variants of the sweep definition (comma-separated names).", flag_values=FLAGS
)
common.define_setting_flags(FLAGS)
flags.adopt_module_key_flags(common, flag_values=FLAGS)
common.define_run_flags(FLAGS, f"{names.RUNS_DIR}/<name>-<timestamp>")
flags.DEFINE_string(
    "shard",
    None,
    "Run only shard i/n of the sweep (0 <= i < n): a contiguous share of its calls of the compiled "
    "program, bit for bit those lanes of the whole sweep. All shards are given the same --out; the "
    "last to finish merges them. Default inside a SLURM job array: the array task's shard "
    "(SLURM_ARRAY_TASK_ID of _COUNT, or _MIN/_MAX); 'none' runs the whole sweep there.",
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "merge", None, "Join the finished shards of the run in this folder into its results.", flag_values=FLAGS
)

# Flags of the definition's own fields; with every setting (``settings.ALL``) they define
# what is computed (as opposed to where and how it runs).
DEFINITION_FLAGS = ("actor_lrs", "critic_lrs", "seeds", "first_seed", "chunk")


def _floats(flag_name: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in FLAGS[flag_name].value)
    except ValueError:
        raise failing.UsageFailure(f"--{flag_name} must be comma-separated numbers, got {FLAGS[flag_name].value}")


def _flag_value(name: str):
    return _floats(name) if name.endswith("_lrs") else FLAGS[name].value


def _flag_overrides() -> dict:
    """Definition keys given explicitly on the command line (traced ones as "mitigations")."""
    static, traced = common.given_settings(FLAGS)
    traced = normalised_traced_settings(traced, "mitigations")
    overrides = {name: _flag_value(name) for name in DEFINITION_FLAGS if FLAGS[name].present}
    return {**overrides, **static, **({"mitigations": traced} if traced else {})}


def definition_from_flags() -> SweepDefinition:
    if FLAGS["all-16"].value and FLAGS.sweep:
        raise failing.UsageFailure("give either --all-16 or --sweep, not both")
    named = "all16" if FLAGS["all-16"].value else FLAGS.sweep
    if named:
        base = load_definition(named).to_dict()
    else:
        base = {"name": "custom", **{name: _flag_value(name) for name in DEFINITION_FLAGS}}
    overrides = _flag_overrides()
    base["mitigations"] = {**base.get("mitigations", {}), **overrides.pop("mitigations", {})}
    base.update(overrides)
    if FLAGS.variants:
        unknown = [v for v in FLAGS.variants if v not in base.get("variants", {})]
        if unknown:
            raise failing.UsageFailure(
                f"--variants: {unknown} not in the sweep's variants {list(base.get('variants', {}))}"
            )
        base["variants"] = {v: base["variants"][v] for v in FLAGS.variants}
    if FLAGS.name:
        base["name"] = FLAGS.name
    try:
        return SweepDefinition.from_dict(base)
    except SettingError as error:
        raise failing.UsageFailure(setting_message(error, f"sweep {named!r}" if named else None))


def setting_message(error: SettingError, source: str | None) -> str:
    """A bad setting the way the user wrote it: as its flag, if it was given on the command
    line or no definition file is involved; else as the key in ``source``."""
    flag = error.setting.removeprefix("mitigations.")
    if flag in FLAGS and (FLAGS[flag].present or source is None):
        return f"--{flag} {error.problem}"
    return f'{source}: "{error.setting}" {error.problem}' if source else f'"{error.setting}" {error.problem}'


def definition_for_resume(run_dir: pathlib.Path) -> SweepDefinition:
    """The run's own definition; UsageFailure if a flag asks for a different sweep (a flag
    that gives a setting its recorded value, or its default where none is recorded, is fine)."""
    if FLAGS["all-16"].value or FLAGS.sweep or FLAGS.out:
        raise failing.UsageFailure("--resume takes the definition from the run; drop --all-16/--sweep/--out")
    recorded = run_folder.read_definition(run_dir)
    values = recorded.to_dict()
    overrides = _flag_overrides()
    overrides["mitigations"] = {**recorded.mitigations, **overrides.get("mitigations", {})}
    if FLAGS.variants:
        overrides["variants"] = {v: recorded.variants.get(v, {}) for v in FLAGS.variants}
    try:
        asked = SweepDefinition.from_dict({**values, **overrides})
    except SettingError as error:
        raise failing.UsageFailure(setting_message(error, None))
    differences = [
        name
        for name, value in asked.to_dict().items()
        if name not in ("mitigations", "variants") and value != values[name]
    ]
    if list(asked.variants) != list(recorded.variants):
        differences.append("variants")
    elif not all(
        np.array_equal(a, b)
        for a, b in zip(jax.tree.leaves(asked.hyperparams()), jax.tree.leaves(recorded.hyperparams()))
    ):
        differences.append("mitigations")
    if differences:
        name = differences[0]
        raise failing.UsageFailure(
            f"--resume {run_dir} belongs to a different sweep: its {name} is "
            f"{values[name]}, not {asked.to_dict()[name]}"
        )
    return recorded


def chosen_shard() -> shards.Shard | None:
    """The shard this process runs: --shard, else the SLURM job array's (saying why), else none."""
    if FLAGS.shard == "none":
        return None
    if FLAGS.shard is not None:
        return shards.Shard.parse(FLAGS.shard)
    detected = shards.from_slurm()
    if detected is None:
        return None
    shard, reason = detected
    print(f"shard {shard} {reason}; --shard=none runs the whole sweep", flush=True)
    return shard


def sharded_output_dir(definition: SweepDefinition) -> pathlib.Path:
    """The folder every shard of the sweep writes into: --out, else (in a job array) one
    named after the array's job id."""
    if FLAGS.out:
        return pathlib.Path(FLAGS.out)
    if "SLURM_ARRAY_JOB_ID" in os.environ:
        return names.new_run_dir(definition.name, f"array{os.environ['SLURM_ARRAY_JOB_ID']}")
    raise failing.UsageFailure("--shard needs --out: the one run folder that every shard of the sweep writes into")


def merge(run_dir: pathlib.Path) -> None:
    named = (*DEFINITION_FLAGS, *settings.ALL, "all-16", "sweep", "variants", "out", "resume", "shard")
    given = [name for name in named if FLAGS[name].present]
    if given:
        failing.fail(f"--merge takes everything from the run; drop --{given[0]}")
    try:
        run = runs.merge_shards(run_dir)
    except (run_folder.RunFolderError, loading.RunError) as error:
        failing.fail(str(error))
    except OSError as error:
        failing.fail(f"cannot write the merged run: {files.io_error_text(error)}", failing.IO_EXIT_CODE)
    print(f"merged {len(run.lanes)} lanes of {run_dir}:")
    print(results.stopping_tables(run.lanes, run.episodes))


def main(argv):
    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        failing.fail(f"unexpected arguments: {' '.join(argv[1:])}")
    if FLAGS.merge:
        merge(pathlib.Path(FLAGS.merge))
        return
    try:
        shard = chosen_shard()
        if FLAGS.resume:
            run_dir = pathlib.Path(FLAGS.resume)
            definition = definition_for_resume(run_dir)
        else:
            definition = definition_from_flags()
            if shard is not None:
                run_dir = sharded_output_dir(definition)
            else:
                run_dir = failing.check_new_output_dir(
                    FLAGS.out or names.new_run_dir(definition.name, time.strftime("%Y%m%d-%H%M%S"))
                )
    except SettingError as error:
        failing.fail(f"--{error.setting} {error.problem}")
    except (ValueError, failing.UsageFailure) as error:
        failing.fail(str(error))
    common.run_command("jaxmadrl.sweep", FLAGS, definition, run_dir, resuming=bool(FLAGS.resume), shard=shard)
