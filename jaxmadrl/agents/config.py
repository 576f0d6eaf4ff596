"""Configuration: the static settings (shapes, counts, modes) of a program, apart from its
traced hyperparameters (``hyperparams``).

``TrainConfig`` fixes the compiled program: change a field and it compiles anew. Every field
is documented once, by ``setting``: its help, choices, range and the learners that use it.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from jaxmadrl.core import numerics
from jaxmadrl.core.limits import SettingError, check_integer, check_reals, check_widths
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
    episode_length: int = setting(
        0,
        "domains other than mec: environment steps per program episode, a time limit that is not a "
        "termination (0: the environment's own episode length)",
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
        check_integer("episode_length", self.episode_length, minimum=0)
        if self.episode_length and self.domain == domains.MEC:
            raise SettingError("episode_length", "applies only to domains other than mec (there: steps_per_episode)")
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
        rollout = self.rollout_envs * self.spec.steps_per_episode
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
        """The shape of the program's domain (agents, observation and action sizes, steps:
        ``episode_length`` where it is set)."""
        spec = domains.spec_of(self.domain, self.env)
        return dataclasses.replace(spec, steps_per_episode=self.episode_length) if self.episode_length else spec

    def epsilon(self, episodes_done):
        return self.epsilon_end + (self.epsilon_start - self.epsilon_end) * jnp.exp(
            -jnp.asarray(episodes_done, jnp.float32) / self.epsilon_decay
        )
