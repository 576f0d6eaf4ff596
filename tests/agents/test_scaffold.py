"""The scaffold every learner's program is built from: the episode clock against a plain loop,
and one compiled chunk for runs that differ only in their length and schedule."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from domain_configs import small_config

from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.scaffold import episode_clock
from jaxmadrl.envs.mec import EnvParams
from jaxmadrl.study import grid
from jaxmadrl.study.definition import SweepDefinition


def test_episode_clock_equals_the_plain_schedule():
    """Episodes 0 … 11 of a 9-episode run that trains after 2 and evaluates every 4."""
    config = TrainConfig(episodes=9, episodes_before_train=2, eval_every=4)
    clock = episode_clock(config, jnp.arange(12))
    active, trains, evaluates = [], [], []
    for episode in range(12):
        number = episode + 1
        active.append(episode < 9)
        trains.append(number > 2)
        evaluates.append(number % 4 == 0 or number == 9)
    np.testing.assert_array_equal(clock.episode, np.arange(12, dtype=np.int32))
    np.testing.assert_array_equal(clock.number, np.arange(1, 13))
    np.testing.assert_array_equal(clock.active, active)
    np.testing.assert_array_equal(clock.trains, trains)
    np.testing.assert_array_equal(clock.evaluates, evaluates)
    assert clock.episode.dtype == jnp.int32 and clock.active.dtype == jnp.bool_
    one = episode_clock(config, 8)
    assert one.episode.shape == () and bool(one.active) and bool(one.evaluates)


def lowered_chunk(config: TrainConfig) -> str:
    definition = SweepDefinition.from_dict(dict(name="t", actor_lrs=(1e-3,), critic_lrs=(1e-2,), chunk=4))
    definition = dataclasses.replace(definition, train=config)
    config = definition.train_config()
    hparams = definition.hyperparams()
    states = jax.eval_shape(grid.make_grid(config).init, definition.lane_keys(), hparams)
    run_chunk = grid.chunk_program(config)  # built from this config, not shared
    return jax.jit(run_chunk).lower(states, episode_clock(config, jnp.arange(4)), hparams).as_text()


@pytest.mark.parametrize(
    "learner, domain",
    [("auto", "mec"), ("ddpg", "Pendulum-v1"), ("td3", "Pendulum-v1"), ("sac", "Pendulum-v1"), ("ppo", "Pendulum-v1")],
)
def test_runs_differing_only_in_length_and_schedule_share_one_chunk_program(learner, domain):
    """The run's length, ``episodes_before_train`` and ``eval_every`` enter the chunk program
    as its clock, so a 1-episode run compiles nothing that a 2000-episode one has not; a
    process builds that program once for both (``grid.make_grid``)."""
    if domain == "mec":
        base = TrainConfig(env=EnvParams(n_agents=3, steps_per_episode=3), batch_size=8, replay_capacity=64)
    else:
        base = small_config(domain, learner=learner)
    long, short = (
        dataclasses.replace(base, **schedule)
        for schedule in (
            dict(episodes=2000, episodes_before_train=10, eval_every=10),
            dict(episodes=1, episodes_before_train=0, eval_every=1),
        )
    )
    assert lowered_chunk(long) == lowered_chunk(short)
    assert set(grid.FIXED_SCHEDULE) == {"episodes", "episodes_before_train", "eval_every"}
    assert grid.make_grid(long).run_chunk is grid.make_grid(short).run_chunk
    # init is not shared: its stop tracker starts at episodes_before_train
    assert grid.make_grid(long).init is not grid.make_grid(short).init
