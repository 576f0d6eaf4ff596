"""The traced hyperparameters of a program: ``HyperParams`` is a pytree of scalars passed
into the compiled program — one compilation serves any value, and a grid of values is one
``jax.vmap`` — each field documented once by ``traced_setting`` (help, choices, range, learners).
"""

from __future__ import annotations

import dataclasses
import math

import chex
import jax
import numpy as np
from flax import struct

from jaxmadrl.agents.config import MASKED, _metadata
from jaxmadrl.core.activations import ACTIVATION_NAMES
from jaxmadrl.core.limits import SettingError, check_reals, is_number


def traced_setting(
    default,
    help: str,
    choices: tuple[str, ...] | None = None,
    switch: bool = False,
    range: str | None = None,
    learners: tuple[str, ...] | None = None,
):
    """``setting`` for a traced field (``dataclasses.MISSING``: no default, required);
    ``learners``: the only learners that implement it (None: all), the others refuse any
    value but the default."""
    return struct.field(default=default, metadata=_metadata(help, choices, switch, range, learners))


NOT_SAC = ("ccm", "ddpg", "td3")


@struct.dataclass
class HyperParams:
    """Traced hyperparameters of one configuration (scalars, or arrays with a leading
    grid axis when vmapped): one compilation serves any value.

    The saturation mitigations are traced too, so that they vmap with the learning rates;
    their defaults are the unmitigated algorithm.
    """

    actor_lr: chex.Numeric = traced_setting(
        dataclasses.MISSING, "Adam learning rate of every client actor (finite, > 0)", range="positive"
    )
    critic_lr: chex.Numeric = traced_setting(
        dataclasses.MISSING, "Adam learning rate of the master critic (finite, > 0)", range="positive"
    )
    gamma: chex.Numeric = traced_setting(0.99, "discount factor", range="unit")
    reward_scale: chex.Numeric = traced_setting(1.0, "factor on the reward in the TD target", range="finite")
    output_activation: chex.Numeric = traced_setting(
        0, "actor output activation (traced as its code; SAC squashes by tanh)", ACTIVATION_NAMES, learners=NOT_SAC
    )
    layer_norm: chex.Numeric = traced_setting(
        0.0, "LayerNorm on the actors' output pre-activations", switch=True, learners=NOT_SAC
    )
    actor_grad_clip: chex.Numeric = traced_setting(
        math.inf, "clip each actor's own gradient to this L2 norm (inf = off)", range="positive or inf"
    )
    critic_grad_clip: chex.Numeric = traced_setting(
        math.inf, "clip the critic gradient to this L2 norm (inf = off)", range="positive or inf"
    )
    reward_normalisation: chex.Numeric = traced_setting(
        0.0, "standardise rewards by their running mean and std", switch=True, learners=("ccm",)
    )
    output_lr_multiplier: chex.Numeric = traced_setting(
        1.0, "factor on the actors' output-layer learning rate", range="positive"
    )
    preactivation_penalty: chex.Numeric = traced_setting(
        0.0, "λ: each actor's loss gains λ·mean(z²) over its output pre-activations z (0 = off)", range="non-negative"
    )
    linear_hidden: chex.Numeric = traced_setting(
        0.0, "linear hidden layers: the actors' hidden ReLUs removed (the output activation kept)", switch=True
    )
    full_normalisation: chex.Numeric = traced_setting(
        0.0,
        "full normalisation: each actor's input by running mean and std, a LayerNorm after every hidden "
        "layer of actors and critic (none before the output activation), actors' output layer at "
        "PyTorch's default initial scale",
        switch=True,
        learners=("ccm",),
    )
    policy_delay: chex.Numeric = traced_setting(
        2.0,
        "TD3: the actors and the target networks update on every this-many-th critic update (an integer >= 1)",
        range="positive",
        learners=("td3",),
    )
    target_noise: chex.Numeric = traced_setting(
        0.2,
        "TD3: std of the Gaussian noise on the target actions (target policy smoothing; actions in [-1, 1])",
        range="non-negative",
        learners=("td3",),
    )
    target_noise_clip: chex.Numeric = traced_setting(
        0.5, "TD3: the smoothing noise is clipped to +- this", range="non-negative", learners=("td3",)
    )
    entropy_temperature: chex.Numeric = traced_setting(
        1.0,
        "SAC: the entropy temperature alpha, fixed, or the learned one's initial value",
        range="positive",
        learners=("sac",),
    )
    learned_temperature: chex.Numeric = traced_setting(
        1.0,
        "SAC: learn alpha towards the target entropy -(action dims per agent x agents) instead of keeping it fixed",
        switch=True,
        learners=("sac",),
    )
    temperature_lr: chex.Numeric = traced_setting(
        3e-4, "SAC: Adam learning rate of log alpha", range="positive", learners=("sac",)
    )
    gae_lambda: chex.Numeric = traced_setting(
        0.95, "PPO: lambda of the generalised advantage estimate", range="unit", learners=("ppo",)
    )
    clip_ratio: chex.Numeric = traced_setting(
        0.2,
        "PPO: the surrogate objective clips the probability ratio to 1 +- this",
        range="positive",
        learners=("ppo",),
    )
    entropy_coef: chex.Numeric = traced_setting(
        0.0,
        "weight of the policy's entropy bonus in the actor loss (PPO; CCM-MADRL with stochastic_actors)",
        range="non-negative",
        learners=("ppo", "ccm"),
    )

    # Filled by a definition whose variants set actor_hidden / critic_hidden (not settings themselves)
    actor_units: chex.Array = traced_setting(
        (), "units alive per hidden layer of the actors (TrainConfig.masked_sizes), () otherwise", learners=MASKED
    )
    critic_units: chex.Array = traced_setting(
        (), "units alive per hidden layer of the critics (TrainConfig.masked_sizes), () otherwise", learners=MASKED
    )

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

        check_reals(self)
        for name in (
            "layer_norm",
            "reward_normalisation",
            "linear_hidden",
            "full_normalisation",
            "learned_temperature",
        ):
            check(name, lambda v: v in (0, 1), "0 or 1")
        check("policy_delay", lambda v: float(v).is_integer() and 1 <= v <= 2**31 - 1, "an integer >= 1")
        check(
            "output_activation",
            lambda v: v in range(len(ACTIVATION_NAMES)),
            f"a code in 0..{len(ACTIVATION_NAMES) - 1} ({', '.join(ACTIVATION_NAMES)})",
        )
        return self

    def as_arrays(self) -> "HyperParams":
        """Every field as a float32 NumPy array (the activation code as int32), on the host."""
        return jax.tree.map(lambda v: np.asarray(v, np.float32), self).replace(
            output_activation=np.asarray(self.output_activation, np.int32)
        )
