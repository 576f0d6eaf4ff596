"""Configuration: static settings (shapes, counts, modes) apart from traced hyperparameters.

``TrainConfig`` fixes the compiled program: change a field and it compiles anew.
``HyperParams`` is a pytree of scalars passed into the program: one compilation serves
any value, and a grid of values is one ``jax.vmap``.
"""
from __future__ import annotations

import dataclasses
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxmadrl import numerics
from jaxmadrl.env import EnvParams
from jaxmadrl.limits import SettingError, check_integer, check_widths, is_number
from jaxmadrl.networks import ACTIVATION_NAMES

ACTOR_UPDATES = ("simultaneous", "sequential")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Static settings of one training program.

    ``episodes_before_train``: a train step follows every episode once more than this
    many episodes are done. ``eval_every``: greedy evaluation on ``eval_episodes`` fixed
    episodes after every ``eval_every``-th episode (and after the last one).
    ``actor_update``: "simultaneous" updates all actors from one loss; "sequential"
    updates them one after another, each seeing the actors before it already updated.
    Exploration: epsilon(e) = end + (start - end)·exp(-e / decay), e = episodes done.
    ``matmul_precision``: of every float32 matrix product in the program
    (``numerics.MATMUL_PRECISIONS``); "highest" is full float32 on every backend.
    """

    env: EnvParams = EnvParams()
    episodes: int = 2000
    batch_size: int = 64
    replay_capacity: int = 10_000
    episodes_before_train: int = 1
    eval_every: int = 10
    eval_episodes: int = 3
    actor_hidden: tuple[int, ...] = (64, 32)
    critic_hidden: tuple[int, ...] = (512, 128)
    actor_update: str = "simultaneous"
    epsilon_start: float = 1.0
    epsilon_end: float = 0.01
    epsilon_decay: float = 2000.0
    matmul_precision: str = numerics.DEFAULT_MATMUL_PRECISION

    def __post_init__(self):
        for name in ("episodes", "batch_size", "replay_capacity", "eval_every", "eval_episodes"):
            check_integer(name, getattr(self, name))
        check_integer("episodes_before_train", self.episodes_before_train, minimum=0)
        if self.replay_capacity < self.env.steps_per_episode:
            raise SettingError("replay_capacity", f"({self.replay_capacity}) must hold one episode "
                                                  f"({self.env.steps_per_episode} steps)")
        if self.batch_size > self.replay_capacity:
            raise SettingError("batch_size", f"({self.batch_size}) must not exceed replay_capacity "
                                             f"({self.replay_capacity})")
        for name in ("actor_hidden", "critic_hidden"):
            check_widths(name, getattr(self, name))
        if self.actor_update not in ACTOR_UPDATES:
            raise SettingError("actor_update", f"must be one of {list(ACTOR_UPDATES)}, got {self.actor_update!r}")
        numerics.check_matmul_precision(self.matmul_precision)

    def epsilon(self, episodes_done):
        return self.epsilon_end + (self.epsilon_start - self.epsilon_end) * jnp.exp(
            -jnp.asarray(episodes_done, jnp.float32) / self.epsilon_decay)


@struct.dataclass
class HyperParams:
    """Traced hyperparameters of one configuration (scalars, or arrays with a leading
    grid axis when vmapped). Learning rates are Adam step sizes.

    The saturation mitigations are traced too, so that they vmap with the learning rates;
    their defaults are the unmitigated algorithm:
    - ``output_activation``: code of the actors' output activation (``ACTIVATION_NAMES``:
      0 tanh, 1 softsign, 2 hardtanh, 3 2·sigmoid−1);
    - ``layer_norm``: 1 puts a LayerNorm on the actors' output pre-activations;
    - ``actor_grad_clip``: L2 clip of each actor's own gradient (inf = off);
    - ``critic_grad_clip``: L2 clip of the critic gradient (inf = off);
    - ``reward_normalisation``: 1 standardises rewards by their running mean and std;
    - ``output_lr_multiplier``: factor on the actors' output-layer learning rate.
    """

    actor_lr: chex.Numeric
    critic_lr: chex.Numeric
    gamma: chex.Numeric = 0.99
    reward_scale: chex.Numeric = 1.0
    output_activation: chex.Numeric = 0
    layer_norm: chex.Numeric = 0.0
    actor_grad_clip: chex.Numeric = math.inf
    critic_grad_clip: chex.Numeric = math.inf
    reward_normalisation: chex.Numeric = 0.0
    output_lr_multiplier: chex.Numeric = 1.0

    def validate(self) -> "HyperParams":
        """Checks concrete values on the host; raises ValueError naming the field and the
        first offending value."""
        def check(name, is_valid, requirement):
            values = np.ravel(np.asarray(getattr(self, name), dtype=object)).tolist()
            if not all(is_number(v) for v in values):
                raise SettingError(name, f"must be a number, got {getattr(self, name)!r}")
            bad = [v for v in values if not is_valid(v)]
            if bad:
                raise SettingError(name, f"must be {requirement}, got {bad[0]!r}")

        for name in ("actor_lr", "critic_lr", "output_lr_multiplier"):
            check(name, lambda v: math.isfinite(v) and v > 0, "finite and > 0")
        check("gamma", lambda v: 0 <= v <= 1, "in [0, 1]")
        for name in ("actor_grad_clip", "critic_grad_clip"):
            check(name, lambda v: v > 0, "> 0 (inf = no clipping)")
        for name in ("layer_norm", "reward_normalisation"):
            check(name, lambda v: v in (0, 1), "0 or 1")
        check("output_activation", lambda v: v in range(len(ACTIVATION_NAMES)),
              f"a code in 0..{len(ACTIVATION_NAMES) - 1} ({', '.join(ACTIVATION_NAMES)})")
        return self

    def as_arrays(self) -> "HyperParams":
        """Every field as a float32 NumPy array (the activation code as int32), on the host."""
        return jax.tree.map(lambda v: np.asarray(v, np.float32), self).replace(
            output_activation=np.asarray(self.output_activation, np.int32))
