"""The heuristics of a MEC run: on each seed's own world and evaluation episodes."""

import jax
import numpy as np
import pytest

import jaxmadrl
from jaxmadrl.agents.ccm.training import make_trainer
from jaxmadrl.core.keys import seed_key
from jaxmadrl.envs import heuristics
from jaxmadrl.report import baselines


@pytest.mark.program
def test_each_seed_gets_the_heuristics_of_the_world_and_episodes_it_trained_on(tiny_sweep):
    run = jaxmadrl.load_run(tiny_sweep[0])
    rewards = baselines.heuristic_rewards(run)
    config = run.definition.train
    assert set(rewards) == set(heuristics.HEURISTICS) and all(set(r) == {0, 1} for r in rewards.values())
    hparams = run.definition.variant_hyperparams(run.variants[0])
    # Jitted, as the baselines are: eagerly, every operation would be compiled on its own.
    init = jax.jit(make_trainer(config).init)
    evaluate = jax.jit(heuristics.evaluate, static_argnums=(0, 3, 4))
    for seed in (0, 1):
        state = init(seed_key(seed), hparams)  # the lane's own first state
        for name in heuristics.HEURISTICS:
            alone = evaluate(name, state.eval_key, state.world, config.env, config.eval_episodes)
            np.testing.assert_allclose(rewards[name][seed], float(alone["reward"]), rtol=1e-6)
    assert rewards["greedy"][0] != rewards["greedy"][1]  # two seeds, two worlds

    table = baselines.describe_baselines(run, rewards).splitlines()
    assert table[2] == "| seed | all_local | offload_all | random | greedy | learners: min | median | max |"
    assert [line.split(" | ")[0] for line in table[4:6]] == ["| 0", "| 1"]
    last = {row["lane"]: row["last_eval_reward"] for row in run.lanes}
    beats_random = sum(last[lane] > rewards["random"][run.lanes[lane]["seed"]] for lane in last)
    assert f"- random: {beats_random}/{len(last)}" in table


def test_heuristics_are_refused_outside_the_mec_world():
    definition = jaxmadrl.SweepDefinition.from_dict(
        {"name": "pendulum", "domain": "Pendulum-v1", "actor_lrs": [1e-3], "critic_lrs": [1e-3]}
    )
    with pytest.raises(ValueError, match="MEC world only"):
        baselines.heuristic_rewards(jaxmadrl.Run(definition=definition, lanes=[], metrics={}))
