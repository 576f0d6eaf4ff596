"""The replay learners' program (DDPG, TD3, SAC): a lane of a grid equals a single run of
it, and each learner learns Pendulum within a few thousand steps."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from domain_configs import PENDULUM, SMALL
from programs import MANY_UPDATES_RTOL, assert_programs_agree

from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.scaffold import episode_clock
from jaxmadrl.agents.trainers import make_train
from jaxmadrl.study import grid
from jaxmadrl.study.definition import SweepDefinition

# variants that exercise each learner's own traced settings within one program
VARIANTS = {
    "td3": {"delay1": {"policy_delay": 1}, "delay2": {}},
    "sac": {"fixed": {"learned_temperature": 0, "entropy_temperature": 0.1}, "learned": {}},
}


@pytest.mark.program
@pytest.mark.parametrize("learner", sorted(VARIANTS))
def test_a_lane_of_the_grid_equals_a_single_run(learner):
    definition = SweepDefinition.from_dict(
        dict(
            name="t",
            domain="Pendulum-v1",
            learner=learner,
            actor_lrs=[1e-3, 1e-1],
            critic_lrs=[1e-2],
            episodes=3,
            chunk=3,
            variants=VARIANTS[learner],
            **{k: list(v) if isinstance(v, tuple) else v for k, v in SMALL.items()},
            eval_every=3,
            eval_episodes=1,
        )
    )
    program = grid.make_grid(definition.train_config())
    hparams, keys = definition.hyperparams(), definition.lane_keys()
    _, metrics = jax.jit(program.run_chunk)(
        jax.jit(program.init)(keys, hparams), episode_clock(definition.train, jnp.arange(3)), hparams
    )
    train = jax.jit(make_train(definition.train_config()))
    for lane in (0, 3):  # the first variant at actor LR 1e-3, the second at 0.1
        _, variant, actor_lr, critic_lr = definition.lanes()[lane]
        single_hparams = definition.variant_hyperparams(variant).replace(actor_lr=actor_lr, critic_lr=critic_lr)
        _, single = train(keys[lane], single_hparams.as_arrays())
        assert_programs_agree(
            {name: values[:, lane] for name, values in metrics.items()}, single, rtol=MANY_UPDATES_RTOL
        )
    assert not np.array_equal(metrics["critic_loss"][1, 0], metrics["critic_loss"][1, 2]), "variants differ"


# Pendulum with jaxmadrl/sweeps/pendulum.json's networks, seed 0 (a random policy scores about −1200).
# Measured on 3 seeds: SAC's evaluation after 20 episodes (4000 steps) −222, −222, −210; TD3's
# best of 8 evaluations in 40 episodes −192, −630, −399 (half as many actor updates as DDPG's).
LEARNS = {"sac": (20, -600), "td3": (40, -600)}


@pytest.mark.slow
@pytest.mark.parametrize("learner", sorted(LEARNS))
def test_learns_pendulum(learner):
    episodes, threshold = LEARNS[learner]
    config = dataclasses.replace(PENDULUM, learner=learner, episodes=episodes, eval_every=5, eval_episodes=3)
    _, metrics = jax.jit(make_train(config))(jax.random.key(0), HyperParams(actor_lr=1e-3, critic_lr=1e-3).as_arrays())
    evaluations = metrics["eval_reward"][np.isfinite(metrics["eval_reward"])]
    assert np.mean(metrics["train_reward"][:5]) < -900 and np.max(evaluations) > threshold, evaluations
