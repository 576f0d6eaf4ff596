"""Configuration: static settings (shapes, counts, modes) apart from traced hyperparameters.

``TrainConfig`` fixes the compiled program: change a field and it compiles anew.
``HyperParams`` is a pytree of scalars passed into the program: one compilation serves
any value, and a grid of values is one ``jax.vmap``.
"""
from __future__ import annotations

import dataclasses
import math

import chex
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxmadrl.env import EnvParams
from jaxmadrl.networks import OUTPUT_ACTIVATIONS

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
    output_activation: str = "tanh"
    actor_update: str = "simultaneous"
    epsilon_start: float = 1.0
    epsilon_end: float = 0.01
    epsilon_decay: float = 2000.0

    def __post_init__(self):
        for name in ("episodes", "batch_size", "replay_capacity", "eval_every", "eval_episodes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be an integer >= 1, got {value!r}")
        if self.episodes_before_train < 0:
            raise ValueError(f"TrainConfig.episodes_before_train must be >= 0, got {self.episodes_before_train!r}")
        if self.batch_size > self.replay_capacity:
            raise ValueError(f"TrainConfig.batch_size ({self.batch_size}) must not exceed "
                             f"replay_capacity ({self.replay_capacity})")
        for name in ("actor_hidden", "critic_hidden"):
            sizes = getattr(self, name)
            if len(sizes) < 1 or any(not isinstance(s, int) or s < 1 for s in sizes):
                raise ValueError(f"TrainConfig.{name} must be a non-empty tuple of positive integers, got {sizes!r}")
        if self.output_activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(f"TrainConfig.output_activation must be one of {sorted(OUTPUT_ACTIVATIONS)}, "
                             f"got {self.output_activation!r}")
        if self.actor_update not in ACTOR_UPDATES:
            raise ValueError(f"TrainConfig.actor_update must be one of {ACTOR_UPDATES}, got {self.actor_update!r}")

    def epsilon(self, episodes_done):
        return self.epsilon_end + (self.epsilon_start - self.epsilon_end) * jnp.exp(
            -jnp.asarray(episodes_done, jnp.float32) / self.epsilon_decay)


@struct.dataclass
class HyperParams:
    """Traced hyperparameters of one configuration (scalars, or arrays with a leading
    grid axis when vmapped). Learning rates are Adam step sizes."""

    actor_lr: chex.Numeric
    critic_lr: chex.Numeric
    gamma: chex.Numeric = 0.99
    reward_scale: chex.Numeric = 1.0

    def validate(self) -> "HyperParams":
        """Checks concrete values on the host; raises ValueError naming the field."""
        for name in ("actor_lr", "critic_lr"):
            for value in np.ravel(getattr(self, name)).tolist():
                if not math.isfinite(value) or value <= 0:
                    raise ValueError(f"{name} must be finite and > 0, got {value!r}")
        for value in np.ravel(self.gamma).tolist():
            if not 0 <= value <= 1:
                raise ValueError(f"gamma must be in [0, 1], got {value!r}")
        return self
