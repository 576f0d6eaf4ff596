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

from jaxmadrl.core import numerics
from jaxmadrl.core.activations import ACTIVATION_NAMES
from jaxmadrl.core.limits import SettingError, check_integer, check_reals, check_widths, is_number
from jaxmadrl.envs import domains
from jaxmadrl.envs.mec import EnvParams

ACTOR_UPDATES = ("simultaneous", "sequential")
# The learners (``metric_schema`` tags them the same); "auto": ccm in mec, ddpg elsewhere.
MEC_LEARNERS = ("ccm",)
FOREIGN_LEARNERS = ("ddpg", "td3", "sac", "ppo")
DISCRETE_LEARNERS = ("ppo",)  # the learners that act in a discrete action space too
MASKED = FOREIGN_LEARNERS  # the learners whose lanes may differ in network size (``networks.with_active_units``)
POLICY_MEANS = ("unbounded", "tanh")
LEARNERS = ("auto", *MEC_LEARNERS, *FOREIGN_LEARNERS)
EXPLORATIONS = ("gaussian", "ou")


def setting(
    default,
    help: str,
    choices: tuple[str, ...] | None = None,
    switch: bool = False,
    range: str | None = None,
    learners: tuple[str, ...] | None = None,
):
    """A field documented once: ``help`` describes it as a flag and a sweep key. ``choices``:
    the allowed strings (for an integer code: the names of the codes, by position);
    ``switch``: a 0/1 value, given as a boolean flag; ``range``: the name of a real value's
    range (``limits.RANGES``), checked in float32; ``learners``: the only learners that use
    it (None: all), the others refuse any value but the default."""
    return dataclasses.field(default=default, metadata=_metadata(help, choices, switch, range, learners))


def _metadata(help, choices, switch, range, learners=None) -> dict:
    return {"help": help, "choices": choices, "switch": switch, "range": range, "learners": learners}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Static settings of one training program; each field's help says what it is.

    Exploration: epsilon(e) = end + (start - end)·exp(-e / decay), e = episodes done.
    """

    env: EnvParams = EnvParams()
    domain: str = setting(
        domains.MEC,
        "the environment: the MEC world (mec, with the Client-Master learner) or one of another "
        "package by name, package:name (gymnax:Pendulum-v1, gymnax:Acrobot-v1, jaxmarl:MPE_simple_spread_v3, "
        "brax:reacher), trained by the learner the setting learner chooses",
    )
    learner: str = setting(
        "auto",
        "the learner: ccm (CCM-MADRL, in mec), or in another domain ddpg (DDPG; MADDPG for several "
        "agents), td3, sac or ppo, each with a centralised critic; auto: ccm in mec, ddpg elsewhere",
        LEARNERS,
    )
    episodes: int = setting(2000, "training episodes")
    batch_size: int = setting(64, "replay batch size (<= replay_capacity)")
    replay_capacity: int = setting(10_000, "replay capacity (transitions; prioritised in MEC, uniform elsewhere)")
    episodes_before_train: int = setting(
        1,
        "training begins once more than this many episodes are done: in MEC a train step after "
        "each episode; elsewhere an update each step, with random actions until then",
    )
    eval_every: int = setting(10, "greedy evaluation after every this many episodes (and after the last)")
    eval_episodes: int = setting(3, "fixed greedy episodes per evaluation (their mean is reported)")
    actor_hidden: tuple[int, ...] = setting((64, 32), "actor hidden layer widths")
    critic_hidden: tuple[int, ...] = setting((512, 128), "critic hidden layer widths")
    actor_update: str = setting(
        "simultaneous",
        "update all actors from one loss (simultaneous) or one after "
        "another, each seeing the actors before it updated (sequential, as the reference)",
        ACTOR_UPDATES,
    )
    epsilon_start: float = setting(
        1.0,
        "exploration noise std (in units of half the action range) and, in MEC, random-selection "
        "probability at episode 0",
        range="non-negative",
    )
    epsilon_end: float = setting(0.01, "exploration epsilon approached at the end", range="non-negative")
    epsilon_decay: float = setting(2000.0, "episodes over which epsilon decays by a factor e", range="positive")
    matmul_precision: str = setting(
        numerics.DEFAULT_MATMUL_PRECISION,
        "precision of every float32 matrix product: "
        "highest = full float32 on every backend; high and default allow faster, less "
        "exact modes (e.g. TF32 on NVIDIA GPUs)",
        numerics.MATMUL_PRECISIONS,
    )

    exploration: str = setting(
        "gaussian",
        "action noise of the domains other than mec: gaussian (independent each step, std epsilon) "
        "or ou (Ornstein-Uhlenbeck, theta 0.15, dt 0.01, sigma epsilon: correlated over hundreds of steps)",
        EXPLORATIONS,
    )
    tau: float = setting(
        0.005,
        "weight of the online networks in each soft update of the target networks (domains other "
        "than mec; MEC's targets are its online networks, as in the system reproduced)",
        range="fraction",
    )
    rollout_envs: int = setting(
        8, "PPO: environments stepped side by side in each episode's rollout", learners=("ppo",)
    )
    update_epochs: int = setting(10, "PPO: passes over each episode's rollout", learners=("ppo",))
    minibatches: int = setting(
        4, "PPO: minibatches per pass (they split the rollout's steps x environments evenly)", learners=("ppo",)
    )
    policy_mean: str = setting(
        "unbounded",
        "PPO: the Gaussian's mean head unbounded, the action clipped to the bounds on its way to the "
        "environment (the Baselines PPO), or tanh-bounded (so that it can saturate)",
        POLICY_MEANS,
        learners=("ppo",),
    )
    stochastic_actors: bool = setting(
        False,
        "CCM-MADRL with stochastic client actors: each a tanh-squashed Gaussian (mean and log-std heads, "
        "as SAC's), acting by a sample of it in place of added noise, greedy by tanh of the mean; "
        "entropy_coef weighs its entropy bonus in each actor's loss",
        switch=True,
        learners=("ccm",),
    )
    hidden_norm_layers: bool = setting(
        True,
        "build the hidden LayerNorms that full normalisation switches on; a program without "
        "them computes the same numbers for lanes with the switch off, faster (a sweep builds "
        "them only if a lane uses them)",
    )
    masked_sizes: bool = setting(
        False,
        "networks built at actor_hidden / critic_hidden, each lane keeping alive the units of its own "
        "sizes (HyperParams.actor_units / critic_units; set by a sweep whose variants set sizes)",
        learners=MASKED,
    )

    def __post_init__(self):
        for name in (
            "episodes",
            "batch_size",
            "replay_capacity",
            "eval_every",
            "eval_episodes",
            "rollout_envs",
            "update_epochs",
            "minibatches",
        ):
            check_integer(name, getattr(self, name))
        check_integer("episodes_before_train", self.episodes_before_train, minimum=0)
        domains.parse(self.domain)
        self._check_domain_settings()
        steps = self.spec.steps_per_episode
        if self.replay_capacity < steps:
            raise SettingError("replay_capacity", f"({self.replay_capacity}) must hold one episode ({steps} steps)")
        if self.batch_size > self.replay_capacity:
            raise SettingError(
                "batch_size", f"({self.batch_size}) must not exceed replay_capacity ({self.replay_capacity})"
            )
        for name in ("actor_hidden", "critic_hidden"):
            check_widths(name, getattr(self, name))
        if self.actor_update not in ACTOR_UPDATES:
            raise SettingError("actor_update", f"must be one of {list(ACTOR_UPDATES)}, got {self.actor_update!r}")
        numerics.check_matmul_precision(self.matmul_precision)
        check_reals(self)

    def _check_learner_settings(self):
        """The learner trains in the domain, and settings of other learners keep their defaults."""
        if self.learner not in LEARNERS:
            raise SettingError("learner", f"must be one of {list(LEARNERS)}, got {self.learner!r}")
        allowed = MEC_LEARNERS if self.domain == domains.MEC else FOREIGN_LEARNERS
        if self.learner_name not in allowed:
            raise SettingError("learner", f"{self.learner!r} does not train in domain {self.domain!r}: {list(allowed)}")
        for field in dataclasses.fields(self):
            users = field.metadata.get("learners")
            if users and self.learner_name not in users and getattr(self, field.name) != field.default:
                raise SettingError(field.name, f"applies only to learner {', '.join(users)}, not {self.learner_name!r}")
        if self.policy_mean not in POLICY_MEANS:
            raise SettingError("policy_mean", f"must be one of {list(POLICY_MEANS)}, got {self.policy_mean!r}")
        if self.spec.discrete and self.learner_name not in DISCRETE_LEARNERS:
            raise SettingError(
                "learner",
                f"{self.learner_name} acts in continuous action spaces; {self.domain} has {self.spec.action_dim} "
                f"discrete actions ({', '.join(DISCRETE_LEARNERS)} acts in both)",
            )
        if self.spec.discrete and self.policy_mean != "unbounded":
            raise SettingError("policy_mean", f"applies to continuous actions; {self.domain}'s are discrete")
        rollout = self.rollout_envs * domains.spec_of(self.domain, self.env).steps_per_episode
        if self.learner_name == "ppo" and rollout % self.minibatches:
            raise SettingError("minibatches", f"({self.minibatches}) must divide the rollout's {rollout} samples")

    def _check_domain_settings(self):
        """Settings that belong to one kind of domain keep their defaults in the other."""
        self._check_learner_settings()
        if self.domain == domains.MEC:
            if self.tau != 0.005:
                raise SettingError("tau", "applies only to domains other than mec (MEC has no target lag)")
            if self.exploration != "gaussian":
                raise SettingError("exploration", "applies only to domains other than mec")
            return
        if self.exploration not in EXPLORATIONS:
            raise SettingError("exploration", f"must be one of {list(EXPLORATIONS)}, got {self.exploration!r}")
        default = EnvParams()
        changed = [f.name for f in dataclasses.fields(default) if getattr(self.env, f.name) != getattr(default, f.name)]
        if changed:
            raise SettingError(changed[0], f"is a setting of the MEC world, not of domain {self.domain!r}")
        if self.actor_update != "simultaneous":
            raise SettingError("actor_update", f"must be simultaneous in domain {self.domain!r}")

    @property
    def learner_name(self) -> str:
        """The learner this program trains ("auto" resolved by the domain)."""
        if self.learner != "auto":
            return self.learner
        return MEC_LEARNERS[0] if self.domain == domains.MEC else FOREIGN_LEARNERS[0]

    @property
    def spec(self) -> domains.DomainSpec:
        """The shape of the program's domain (agents, observation and action sizes, steps)."""
        return domains.spec_of(self.domain, self.env)

    def epsilon(self, episodes_done):
        return self.epsilon_end + (self.epsilon_start - self.epsilon_end) * jnp.exp(
            -jnp.asarray(episodes_done, jnp.float32) / self.epsilon_decay
        )


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
