"""DDPG (one agent) and MADDPG (several agents, one centralised critic) with tanh actors, on
an environment of another package (``domains``), instrumented as the MEC learner is.

The actors are the project's stacked actor ensemble (``networks.ActorEnsemble``, one member
per agent) with every traced actor-side mitigation; the critic is a plain network
Q(all observations, all actions) → scalar. Each actor has its own Adam
(``optimisers.actor_step``, with the output-layer LR multiplier); gradients are clipped and
measured, and stopping tracked, by the functions the MEC learner uses. Targets follow the
online networks by soft updates of weight ``config.tau``. Replay is uniform.

One episode is ``spec.steps_per_episode`` environment steps from a reset. Every step acts —
uniformly at random in the first ``episodes_before_train`` episodes, afterwards the actors'
outputs plus noise of scale ``config.epsilon(episode)`` (``config.exploration``: independent
Gaussian, or an Ornstein-Uhlenbeck process started at 0 with each program episode), clipped
to [-1, 1] — stores the transition and, after those episodes, makes one update from a
uniform batch: the critic first, then every actor at once through the updated critic, Q(s,
π(s)) with all the agents' fresh actions (MADDPG proper holds the other agents' actions at
their replayed values). An episode's metrics are those of its last update, except
``actor_max_delta`` (N,) and ``critic_max_delta``: the largest change any of its updates
made, so that "unchanged" in the stop tracker means that no update of the episode changed a
weight. ``train_reward`` is the return of the episode begun at the reset (an environment
that ends early starts another within the same steps, whose transitions are learned from).
Reward normalisation and full normalisation are not implemented here: their traced
switches are ignored, and a sweep definition of another domain refuses them.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Sequence

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxmadrl.agents import diagnostics, metric_schema, replay
from jaxmadrl.agents.config import HyperParams, TrainConfig
from jaxmadrl.agents.networks import OUTPUT_INIT_BOUND, ActorEnsemble, Linear, ensemble_outputs
from jaxmadrl.agents.optimisers import actor_step, adam, adam_states, clip_global, clip_per_agent
from jaxmadrl.agents.scaffold import Trainer, assemble_trainer, evaluates, nan_like
from jaxmadrl.core.activations import apply_output_activation
from jaxmadrl.envs import domains

# Ornstein-Uhlenbeck exploration (``config.exploration == "ou"``), as DDPG's authors used it
OU_THETA = 0.15
OU_DT = 0.01


class CentralCritic(nn.Module):
    """Q(all observations (..., N, O), all actions (..., N, A)) → (...): dense layers
    ``fc1 … fcK`` with ReLU (PyTorch's default initialisation), output layer U(±3e-3)."""

    hidden: Sequence[int] = (256, 256)

    @nn.compact
    def __call__(self, obs, actions):
        flat = lambda x: x.reshape(*x.shape[:-2], -1)
        x = jnp.concatenate([flat(obs), flat(actions)], axis=-1)
        for i, width in enumerate(self.hidden):
            x = nn.relu(Linear(width, name=f"fc{i + 1}")(x))
        return Linear(1, init_bound=OUTPUT_INIT_BOUND, name=f"fc{len(self.hidden) + 1}")(x)[..., 0]


@struct.dataclass
class Transition:
    """One step as stored: obs, next_obs (N, O); actions (N, A) in [-1, 1] as taken;
    reward and terminated (0/1) float32 scalars."""

    obs: chex.Array
    actions: chex.Array
    reward: chex.Array
    next_obs: chex.Array
    terminated: chex.Array


@struct.dataclass
class LearnerState:
    """Online and target parameters and Adam states; actor leaves (and each actor's Adam
    state) have a leading agent axis N."""

    actor_params: chex.ArrayTree
    actor_target: chex.ArrayTree
    actor_opt_state: optax.OptState
    critic_params: chex.ArrayTree
    critic_target: chex.ArrayTree
    critic_opt_state: optax.OptState


@struct.dataclass
class TrainState:
    learner: LearnerState
    memory: replay.ReplayBuffer
    tracker: diagnostics.StopTracker
    key: chex.PRNGKey
    eval_key: chex.PRNGKey  # fixed: every evaluation plays the same episodes


def networks_of(config: TrainConfig) -> tuple[nn.Module, CentralCritic]:
    spec = config.spec
    actor = ActorEnsemble(action_dim=spec.action_dim, hidden=tuple(config.actor_hidden), hidden_norms=False)
    return actor, CentralCritic(hidden=tuple(config.critic_hidden))


def init_learner(key: chex.PRNGKey, config: TrainConfig) -> LearnerState:
    spec = config.spec
    actor, critic = networks_of(config)
    k_actor, k_critic = jax.random.split(key)
    obs = jnp.zeros((spec.n_agents, spec.obs_dim))
    actor_params = actor.init(k_actor, obs, 0.0, 0.0, 0.0)
    critic_params = critic.init(k_critic, obs, jnp.zeros((spec.n_agents, spec.action_dim)))
    actor_opt_state, critic_opt_state = adam_states(actor_params, critic_params)
    return LearnerState(
        actor_params=actor_params,
        actor_target=actor_params,
        actor_opt_state=actor_opt_state,
        critic_params=critic_params,
        critic_target=critic_params,
        critic_opt_state=critic_opt_state,
    )


def critic_loss(critic_params, critic: CentralCritic, batch: Transition, targets: chex.Array):
    """Mean squared TD error over the batch → (loss, Q (B,))."""
    q = critic.apply(critic_params, batch.obs, batch.actions)
    return jnp.mean(jnp.square(q - targets)), q


def actor_loss(actor_params, actor: nn.Module, critic: CentralCritic, critic_params, obs, hparams: HyperParams):
    """−mean_b Q(s_b, π(s_b)) with every agent's fresh action, plus each actor's
    pre-activation penalty λ·mean(z_n²) (their sum, λ·N·mean(z²), reaches each actor as its
    own) → (loss, z (B, N, A))."""
    actions, z = ensemble_outputs(actor, actor_params, obs, hparams)
    penalty = hparams.preactivation_penalty * z.shape[-2] * jnp.mean(jnp.square(z))
    return -jnp.mean(critic.apply(critic_params, obs, actions)) + penalty, z


def next_noise(exploration: str, noise: chex.Array, shock: chex.Array, scale: chex.Numeric) -> chex.Array:
    """The exploration noise of the next step from the last one and a standard normal
    shock (same shapes): Ornstein-Uhlenbeck x' = x − θ·x·dt + σ·√dt·ε with σ = ``scale``,
    or independent Gaussian σ·ε."""
    if exploration == "ou":
        return noise - OU_THETA * noise * OU_DT + scale * jnp.sqrt(OU_DT) * shock
    return scale * shock


def soft_update(target, online, tau: float):
    return jax.tree.map(lambda t, o: (1.0 - tau) * t + tau * o, target, online)


def update(learner: LearnerState, batch: Transition, hparams: HyperParams, config: TrainConfig):
    """One DDPG update on a batch (leading axis B) → (learner, metrics); gradient norms are
    those before any clipping."""
    chex.assert_rank(batch.obs, 3)
    actor, critic = networks_of(config)
    next_actions, _ = ensemble_outputs(actor, learner.actor_target, batch.next_obs, hparams)
    next_q = critic.apply(learner.critic_target, batch.next_obs, next_actions)
    targets = hparams.reward_scale * batch.reward + hparams.gamma * (1.0 - batch.terminated) * next_q
    (loss, q), critic_grads = jax.value_and_grad(critic_loss, has_aux=True)(
        learner.critic_params, critic, batch, targets
    )
    updates, critic_opt_state = adam(hparams.critic_lr).update(
        clip_global(critic_grads, hparams.critic_grad_clip), learner.critic_opt_state, learner.critic_params
    )
    critic_params = optax.apply_updates(learner.critic_params, updates)

    (_, z), actor_grads = jax.value_and_grad(actor_loss, has_aux=True)(
        learner.actor_params, actor, critic, critic_params, batch.obs, hparams
    )
    actor_params, actor_opt_state = actor_step(
        learner.actor_params, learner.actor_opt_state, clip_per_agent(actor_grads, hparams.actor_grad_clip), hparams
    )
    new_learner = LearnerState(
        actor_params=actor_params,
        actor_target=soft_update(learner.actor_target, actor_params, config.tau),
        actor_opt_state=actor_opt_state,
        critic_params=critic_params,
        critic_target=soft_update(learner.critic_target, critic_params, config.tau),
        critic_opt_state=critic_opt_state,
    )

    actor_layers = diagnostics.actor_grad_norms(actor_grads)
    actor_totals = diagnostics.actor_total_norms(actor_grads, actor_layers)
    critic_layers = diagnostics.critic_grad_norms(critic_grads)
    actor_rms, critic_total = diagnostics.rms_over_agents(actor_totals), diagnostics.total_norm(critic_layers)
    metrics = {
        "critic_loss": loss,
        "mean_q": jnp.mean(q),
        "td_error": jnp.mean(jnp.abs(q - targets)),
        "actor_grad_norm": actor_rms,
        "actor_grad_norm_layers": diagnostics.rms_over_agents(actor_layers),
        "actor_grad_norm_agents": actor_totals,
        "critic_grad_norm": critic_total,
        "critic_grad_norm_layers": critic_layers,
        "grad_ratio": diagnostics.gradient_ratio(actor_rms, critic_total),
        "actor_max_delta": diagnostics.max_abs_change_per_agent(learner.actor_params, actor_params),
        "critic_max_delta": diagnostics.max_abs_change(learner.critic_params, critic_params),
        **diagnostics.preactivation_stats(z, apply_output_activation(z, hparams.output_activation)),
    }
    return new_learner, metric_schema.checked(metric_schema.DDPG, metrics, "update")


@dataclasses.dataclass(frozen=True)
class _Program:
    """What the functions of one training program share: its config, its domain's shape
    and environment, and the actor ensemble."""

    config: TrainConfig
    spec: domains.DomainSpec
    environment: domains.Environment
    actor: nn.Module

    @property
    def action_shape(self) -> tuple[int, int]:
        return (self.spec.n_agents, self.spec.action_dim)


def make_trainer(config: TrainConfig) -> Trainer:
    """The training program of a foreign domain, with the interface and metric names of
    ``ccm.training.make_trainer``."""
    program = _Program(config, config.spec, domains.environment(config.domain), networks_of(config)[0])
    return assemble_trainer(functools.partial(_init, program), functools.partial(_run_episode, program), config)


def _init(program: _Program, key: chex.PRNGKey, hparams: HyperParams) -> TrainState:
    config, spec = program.config, program.spec
    k_params, k_eval, k_run = jax.random.split(key, 3)
    obs = jnp.zeros((spec.n_agents, spec.obs_dim))
    example = Transition(obs, jnp.zeros(program.action_shape), jnp.float32(0), obs, jnp.float32(0))
    return TrainState(
        learner=init_learner(k_params, config),
        memory=replay.init_replay(example, config.replay_capacity),
        tracker=diagnostics.init_stop_tracker(spec.n_agents, config.episodes_before_train),
        key=k_run,
        eval_key=k_eval,
    )


def _act(program: _Program, learner, obs, key, hparams, policy: str, noise, noise_std):
    """→ (actions (N, A) in [-1, 1], the exploration noise carried to the next step)."""
    if policy == "random":
        return jax.random.uniform(key, program.action_shape, minval=-1.0, maxval=1.0), noise
    actions, _ = ensemble_outputs(program.actor, learner.actor_params, obs, hparams)
    if policy == "greedy":
        return actions, noise
    noise = next_noise(program.config.exploration, noise, jax.random.normal(key, program.action_shape), noise_std)
    return jnp.clip(actions + noise, -1.0, 1.0), noise


def _play(program: _Program, key, learner, memory, hparams, policy: str, learns: bool, noise_std=0.0):
    """One episode → (learner, memory, return of the episode begun at the reset,
    per-update metrics (T, ...) or None). ``memory`` None: nothing stored."""
    config, environment = program.config, program.environment
    k_reset, k_steps = jax.random.split(key)
    obs, env_state = environment.reset(k_reset)

    def one_step(carry, key):
        learner, memory, obs, env_state, noise, running, episode_return = carry
        k_act, k_env, k_batch = jax.random.split(key, 3)
        actions, noise = _act(program, learner, obs, k_act, hparams, policy, noise, noise_std)
        step = environment.step(k_env, env_state, actions)
        episode_return = episode_return + jnp.where(running, step.reward, 0.0)
        running = running & ~step.done
        metrics = None
        if memory is not None:
            stored = Transition(obs, actions, step.reward, step.next_obs, step.terminated.astype(jnp.float32))
            memory = replay.add(memory, stored, jnp.float32(0))
        if learns:
            batch = replay.sample_uniform(memory, k_batch, config.batch_size)
            learner, metrics = update(learner, batch, hparams, config)
        return (learner, memory, step.obs, step.state, noise, running, episode_return), metrics

    start = (learner, memory, obs, env_state, jnp.zeros(program.action_shape), jnp.bool_(True), jnp.float32(0))
    (learner, memory, *_, episode_return), metrics = jax.lax.scan(
        one_step, start, jax.random.split(k_steps, program.spec.steps_per_episode)
    )
    return learner, memory, episode_return, metrics


def _learning_episode(program: _Program, state: TrainState, key, episode_number, hparams, noise_std):
    learner, memory, episode_return, per_update = _play(
        program, key, state.learner, state.memory, hparams, "noisy", True, noise_std
    )
    metrics = jax.tree.map(lambda values: values[-1], per_update)
    for name in ("actor_max_delta", "critic_max_delta"):
        metrics[name] = jnp.max(per_update[name], axis=0)
    tracker = diagnostics.update_stop_tracker(
        state.tracker, episode_number, metrics["actor_max_delta"], metrics["critic_max_delta"]
    )
    return state.replace(learner=learner, memory=memory, tracker=tracker), episode_return, metrics


def _random_episode(program: _Program, state: TrainState, key, episode_number, hparams, noise_std):
    learning = functools.partial(_learning_episode, program)
    skipped = nan_like(jax.eval_shape(learning, state, key, episode_number, hparams, noise_std)[2])
    _, memory, episode_return, _ = _play(program, key, state.learner, state.memory, hparams, "random", False)
    return state.replace(memory=memory), episode_return, skipped


def _evaluate(program: _Program, state: TrainState, hparams: HyperParams):
    keys = jax.random.split(state.eval_key, program.config.eval_episodes)
    returns = jax.vmap(lambda key: _play(program, key, state.learner, None, hparams, "greedy", False)[2])(keys)
    return jnp.mean(returns)


def _run_episode(program: _Program, state: TrainState, episode: chex.Array, hparams: HyperParams):
    config = program.config
    key, k_episode = jax.random.split(state.key)
    state = state.replace(key=key)
    episode_number = episode + 1  # episodes completed, counting this one
    trains = episode_number > config.episodes_before_train
    noise_std = config.epsilon(episode)
    state, episode_return, update_metrics = jax.lax.cond(
        trains,
        functools.partial(_learning_episode, program),
        functools.partial(_random_episode, program),
        state,
        k_episode,
        episode_number,
        hparams,
        noise_std,
    )
    eval_reward = jax.lax.cond(
        evaluates(config, episode_number),
        functools.partial(_evaluate, program),
        lambda *_: jnp.float32(jnp.nan),
        state,
        hparams,
    )
    metrics = {
        "train_reward": episode_return,
        "epsilon": noise_std,
        "trained": trains,
        "eval_reward": eval_reward,
        **update_metrics,
    }
    return state, metric_schema.checked(metric_schema.DDPG, metrics)
