"""A finished run's trained policies (``params.npz``, ``final_params``), back in its program:
a lane's greedy policy as a function (``load_policy``) and its evaluation on fresh episodes
(``evaluate``; ``python -m jaxmadrl.evaluate``)."""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import numpy as np

from jaxmadrl.agents import trainers
from jaxmadrl.agents.scaffold import Trainer
from jaxmadrl.core import numerics
from jaxmadrl.store.final_params import name_of

FRESH = 0x6E657721  # folded into the seed's key: episodes no training evaluation played


def _trained(run, lane: int, **changes) -> tuple[Trainer, object, object]:
    """(the trainer of ``run``'s program with ``changes`` to its config, lane ``lane``'s
    hyperparameters, a function of a state template → that state with the lane's trained
    learner). What ``params.npz`` leaves out (optimisers, targets) acting and evaluating do
    not read: zeros stand in for it."""
    definition, params = run.definition, run.final_params()
    if not 0 <= lane < len(definition.lanes()):
        raise ValueError(f"lane {lane} is not a lane of the run (0 … {len(definition.lanes()) - 1})")
    recorded = (run.environment or [{}])[-1].get("matmul_precision", numerics.DEFAULT_MATMUL_PRECISION)
    config = dataclasses.replace(definition.train_config(recorded), **changes)
    hparams = jax.tree.map(lambda x: x[lane], definition.hyperparams())

    def kept(path, like):
        name = name_of(path)
        return params[name][lane] if name in params else np.zeros(like.shape, like.dtype)

    def trained(learner_template):
        return jax.tree_util.tree_map_with_path(kept, learner_template)

    return trainers.trainer_of(config), hparams, trained


def load_policy(run, lane: int) -> Callable:
    """Lane ``lane``'s trained greedy policy of the finished ``run`` (a ``Run`` loaded from
    its folder), as a jitted function obs (N, O) → actions (N, A) in [-1, 1]: its actors'
    deterministic output (DDPG, TD3), mean (SAC: tanh of it; PPO: clipped), or for CCM-MADRL
    the clients' proposals (decision, α, ρ) before the master's selection, which also needs
    the tasks' sizes (``agents.ccm.selection``). It computes at the run's matmul precision,
    with the lane's variant settings. RunError if the run keeps no parameters, ValueError
    if ``lane`` is not one of its lanes."""
    trainer, hparams, trained = _trained(run, lane)
    template = jax.eval_shape(trainer.init, run.definition.lane_keys()[lane], hparams).learner
    learner = trained(template)
    return jax.jit(lambda obs: trainer.act(learner, obs, hparams))


def evaluate(run, lane: int, episodes: int = 10, seed: int | None = 0) -> dict[str, float]:
    """Lane ``lane``'s trained greedy policy on ``episodes`` episodes, in its own world (MEC)
    and program: the mean of each evaluation metric (``eval_reward``; for MEC also the
    violation rates). ``seed``: fresh episodes, drawn from it; None: the run's own
    evaluation episodes (with ``episodes`` = the run's ``eval_episodes``, this recomputes
    the last ``eval_reward`` the run recorded). Errors as ``load_policy``."""
    trainer, hparams, trained = _trained(run, lane, eval_episodes=episodes)
    state = jax.jit(trainer.init)(run.definition.lane_keys()[lane], hparams)
    state = state.replace(learner=trained(state.learner))
    if seed is not None:
        state = state.replace(eval_key=jax.random.fold_in(jax.random.key(seed), FRESH))
    return {name: float(value) for name, value in jax.jit(trainer.evaluate)(state, hparams).items()}
