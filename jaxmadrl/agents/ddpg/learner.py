"""DDPG (one agent), MADDPG (several agents, one centralised critic) and TD3 with tanh
actors, on an environment of another package (``domains``), instrumented as the MEC learner
is; the program around it (acting, replay, episodes) is ``off_policy``'s. TD3 is the same
update with twin critics, target policy smoothing and a delayed actor (``docs/SPEC.md`` §7.1).

The actors are the project's stacked actor ensemble (``networks.ActorEnsemble``, one member
per agent) with every traced actor-side mitigation; the critic is a plain network
Q(all observations, all actions) → scalar (``critics.CentralCritic``). Each actor has its
own Adam (``optimisers.actor_step``, with the output-layer LR multiplier); gradients are
clipped and measured, and stopping tracked, by the functions the MEC learner uses. Targets
follow the online networks by soft updates of weight ``config.tau``. Replay is uniform.

Each update trains the critic first, then every actor at once through the updated critic,
Q(s, π(s)) with all the agents' fresh actions (MADDPG proper holds the other agents'
actions at their replayed values). Reward normalisation and full normalisation are not
implemented here: their traced switches are ignored, and a sweep definition of another
domain refuses them.
"""

from __future__ import annotations

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxmadrl.agents import critics, diagnostics, metric_schema, off_policy
from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.networks import ActorEnsemble, ensemble_outputs, sized
from jaxmadrl.agents.optimisers import actor_step, adam, adam_states, clip_global, clip_per_agent
from jaxmadrl.agents.scaffold import Trainer
from jaxmadrl.core.activations import apply_output_activation


@struct.dataclass
class LearnerState:
    """Online and target parameters and Adam states; actor leaves (and each actor's Adam
    state) have a leading agent axis N, twin critics' a leading critic axis C. ``updates``:
    the updates made so far (int32; TD3 delays its actor by it)."""

    actor_params: chex.ArrayTree
    actor_target: chex.ArrayTree
    actor_opt_state: optax.OptState
    critic_params: chex.ArrayTree
    critic_target: chex.ArrayTree
    critic_opt_state: optax.OptState
    updates: chex.Array


def is_td3(config: TrainConfig) -> bool:
    return config.learner_name == metric_schema.TD3


def networks_of(config: TrainConfig) -> tuple[nn.Module, nn.Module]:
    """(the actor ensemble, the critic: one for DDPG, twins for TD3)."""
    spec = config.spec
    actor = ActorEnsemble(action_dim=spec.action_dim, hidden=tuple(config.actor_hidden), hidden_norms=False)
    return actor, critics.critics_of(config.critic_hidden, 2 if is_td3(config) else 1)


def init_learner(key: chex.PRNGKey, config: TrainConfig, hparams: HyperParams | None = None) -> LearnerState:
    spec = config.spec
    actor, critic = networks_of(config)
    k_actor, k_critic = jax.random.split(key)
    obs = jnp.zeros((spec.n_agents, spec.obs_dim))
    actor_params = actor.init(k_actor, obs, 0.0, 0.0, 0.0)
    critic_params = critic.init(k_critic, obs, jnp.zeros((spec.n_agents, spec.action_dim)))
    actor_params, critic_params = sized(actor_params, critic_params, config, hparams)
    actor_opt_state, critic_opt_state = adam_states(actor_params, critic_params)
    return LearnerState(
        actor_params=actor_params,
        actor_target=actor_params,
        actor_opt_state=actor_opt_state,
        critic_params=critic_params,
        critic_target=critic_params,
        critic_opt_state=critic_opt_state,
        updates=jnp.int32(0),
    )


def actor_loss(actor_params, actor: nn.Module, critic: nn.Module, critic_params, obs, hparams: HyperParams):
    """−mean_b Q_1(s_b, π(s_b)) (the first critic's) with every agent's fresh action, plus
    each actor's pre-activation penalty λ·mean(z_n²) (their sum, λ·N·mean(z²), reaches each
    actor as its own) → (loss, z (B, N, A))."""
    actions, z = ensemble_outputs(actor, actor_params, obs, hparams)
    penalty = hparams.preactivation_penalty * z.shape[-2] * jnp.mean(jnp.square(z))
    return -jnp.mean(critics.q_values(critic, critic_params, obs, actions)[0]) + penalty, z


def td_targets(learner: LearnerState, batch, key, hparams: HyperParams, config: TrainConfig) -> chex.Array:
    """y = reward_scale·r + γ·(1 − terminated)·min_c Q'_c(s', a') → (B,), a' the target
    actors' actions; TD3 smooths them: a' = clip(π'(s') + clip(σ·ε, ±c), ±1), σ
    ``target_noise``, c ``target_noise_clip``."""
    actor, critic = networks_of(config)
    next_actions, _ = ensemble_outputs(actor, learner.actor_target, batch.next_obs, hparams)
    if is_td3(config):
        noise = hparams.target_noise * jax.random.normal(key, next_actions.shape)
        clipped = jnp.clip(noise, -hparams.target_noise_clip, hparams.target_noise_clip)
        next_actions = jnp.clip(next_actions + clipped, -1.0, 1.0)
    next_q = jnp.min(critics.q_values(critic, learner.critic_target, batch.next_obs, next_actions), axis=0)
    return hparams.reward_scale * batch.reward + hparams.gamma * (1.0 - batch.terminated) * next_q


def update(learner: LearnerState, batch, key, hparams: HyperParams, config: TrainConfig):
    """One DDPG or TD3 update on a batch (leading axis B) → (learner, metrics); gradient
    norms are those before any clipping. TD3 applies the actors' step and the soft target
    updates only on every ``policy_delay``-th update (the first included)."""
    chex.assert_rank(batch.obs, 3)
    actor, critic = networks_of(config)
    targets = td_targets(learner, batch, key, hparams, config)
    (loss, q), critic_grads = jax.value_and_grad(critics.td_loss, has_aux=True)(
        learner.critic_params, critic, batch.obs, batch.actions, targets
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
        actor_target=off_policy.soft_update(learner.actor_target, actor_params, config.tau),
        actor_opt_state=actor_opt_state,
        critic_params=critic_params,
        critic_target=off_policy.soft_update(learner.critic_target, critic_params, config.tau),
        critic_opt_state=critic_opt_state,
        updates=learner.updates + 1,
    )
    if is_td3(config):
        new_learner = _delayed(learner, new_learner, hparams)

    metrics = {
        "critic_loss": loss,
        "mean_q": jnp.mean(q),
        "td_error": jnp.mean(jnp.abs(q - targets)),
        **diagnostics.actor_gradient_metrics(actor_grads),
        **critics.critic_gradient_metrics(critic_grads),
        "actor_max_delta": diagnostics.max_abs_change_per_agent(learner.actor_params, new_learner.actor_params),
        "critic_max_delta": diagnostics.max_abs_change(learner.critic_params, critic_params),
        **diagnostics.preactivation_stats(z, apply_output_activation(z, hparams.output_activation)),
    }
    metrics["grad_ratio"] = diagnostics.gradient_ratio(metrics["actor_grad_norm"], metrics["critic_grad_norm"])
    return new_learner, metric_schema.checked(config.learner_name, metrics, "update")


def _delayed(old: LearnerState, new: LearnerState, hparams: HyperParams) -> LearnerState:
    """``new`` with the actors, their Adam states and both targets left as in ``old``
    unless this is a ``policy_delay``-th update."""
    due = jnp.mod(old.updates, jnp.asarray(hparams.policy_delay).astype(jnp.int32)) == 0
    kept = lambda name: jax.tree.map(lambda n, o: jnp.where(due, n, o), getattr(new, name), getattr(old, name))
    return new.replace(
        **{name: kept(name) for name in ("actor_params", "actor_opt_state", "actor_target", "critic_target")}
    )


def _actions(learner: LearnerState, obs, key, hparams: HyperParams, config: TrainConfig) -> chex.Array:
    """The actors' outputs (N, A) on obs (N, O) (deterministic: ``key`` unused)."""
    return ensemble_outputs(networks_of(config)[0], learner.actor_params, obs, hparams)[0]


ALGORITHM = off_policy.Algorithm(
    init_learner=init_learner,
    update=update,
    actions=_actions,
)


def make_trainer(config: TrainConfig) -> Trainer:
    """The training program of DDPG / MADDPG or TD3 (``config.learner_name``)."""
    return off_policy.make_trainer(config, ALGORITHM)
