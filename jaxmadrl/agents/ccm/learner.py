"""The CCM-MADRL learner: its state, what it takes from an episode, and the train step
(critic update, hard target copy, actor update in either order, hard target copy) on the
losses of ``ccm.losses``. Shapes: B batch, N agents, L layers."""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxmadrl.agents import diagnostics, metric_schema
from jaxmadrl.agents.ccm.losses import actor_loss, critic_loss, squared_errors, td_targets, zero_row_q
from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.agents.networks import Networks, init_params, with_default_output_init
from jaxmadrl.agents.normalisation import (
    InputStats,
    RewardStats,
    init_input_stats,
    init_reward_stats,
    update_input_stats,
    update_reward_stats,
)
from jaxmadrl.agents.optimisers import actor_step, adam, adam_states, clip_global, clip_per_agent
from jaxmadrl.core.activations import apply_output_activation
from jaxmadrl.envs.mec import OBS_DIM


@struct.dataclass
class Transition:
    """One environment step as stored in the replay memory (no leading axis: one step).

    obs, next_obs (N, 7); actions (N, 3) the noisy actor outputs; selected (N,) the
    master's 0/1 decisions; reward and done float32 scalars.
    """

    obs: chex.Array
    actions: chex.Array
    selected: chex.Array
    reward: chex.Array
    next_obs: chex.Array
    done: chex.Array


@struct.dataclass
class LearnerState:
    """Online and target parameters and Adam states. Actor leaves have a leading agent
    axis N; so does the actor Adam state (each actor has its own Adam, step count included).
    ``reward_stats`` feed the optional reward normalisation, ``actor_input_stats`` the
    optional full normalisation (online and target actors read the same statistics)."""

    actor_params: chex.ArrayTree
    actor_target: chex.ArrayTree
    actor_opt_state: optax.OptState
    critic_params: chex.ArrayTree
    critic_target: chex.ArrayTree
    critic_opt_state: optax.OptState
    reward_stats: RewardStats
    actor_input_stats: InputStats


def init_learner(
    key: chex.PRNGKey, networks: Networks, n_agents: int, full_normalisation: chex.Numeric = 0.0
) -> LearnerState:
    """Initial parameters (the actors' output layer at PyTorch's default scale when
    ``full_normalisation`` is 1, as that variant's actors are), Adam states and statistics."""
    actor_params, critic_params = init_params(key, networks, n_agents)
    actor_params = with_default_output_init(actor_params, full_normalisation)
    actor_opt_state, critic_opt_state = adam_states(actor_params, critic_params)
    return LearnerState(
        actor_params=actor_params,
        actor_target=actor_params,
        actor_opt_state=actor_opt_state,
        critic_params=critic_params,
        critic_target=critic_params,
        critic_opt_state=critic_opt_state,
        reward_stats=init_reward_stats(),
        actor_input_stats=init_input_stats(n_agents, OBS_DIM),
    )


def observe_episode(
    learner: LearnerState,
    networks: Networks,
    transitions: Transition,
    joint: chex.Array,
    q: chex.Array,
    hparams: HyperParams,
):
    """What the learner takes from an exploring episode of T steps (``transitions`` with
    leading axis T; ``joint`` (T, H1) and ``q`` (T, N) the current critic's values on each
    step, computed while acting): its rewards join the running reward statistics, then each
    step's squared error under the current critic, its replay priority. The networks do
    not change within an episode, so all T errors are computed together — the same numbers
    as step by step. Returns (learner, errors (T,))."""
    learner = learner.replace(reward_stats=update_reward_stats(learner.reward_stats, transitions.reward))
    targets = td_targets(networks, learner, transitions.reward, transitions.next_obs, transitions.done, hparams)
    zero_q = zero_row_q(networks, learner.critic_params, joint, hparams.full_normalisation)
    errors = squared_errors(q, transitions.selected > 0, zero_q, targets)
    return learner, errors


class ActorUpdate(NamedTuple):
    """What an actor update returns. ``accumulated``: each actor's gradient as the reference
    implementation's ``.grad`` holds it after its loop over agents (see
    ``_update_actors_sequentially``), a tree like the actor parameters; ``critic_grads``:
    the sum over that loop's passes of the actor loss's gradient with respect to the
    critic, which the reference's critic ``.grad`` holds on top of its own loss's;
    ``input_stats``: the actors' input statistics, updated by each pass over the batch
    before it normalises (once per pass, as the reference's running normalisation)."""

    params: chex.ArrayTree
    opt_state: optax.OptState
    layer_norms: chex.Array  # (N, L) of the gradient each actor's step used, before clipping
    total_norms: chex.Array  # (N,)
    z: chex.Array  # (B, N, 3) output pre-activations, before any update
    accumulated: chex.ArrayTree
    critic_grads: chex.ArrayTree
    input_stats: InputStats


_actor_and_critic_grads = jax.grad(actor_loss, argnums=(0, 2), has_aux=True)


def _by_agent(mask: chex.Array, tree):
    """Each leaf (N, ...) with agent n's slice where mask[n], else zero."""
    return jax.tree.map(lambda x: jnp.where(mask.reshape((-1,) + (1,) * (x.ndim - 1)), x, 0.0), tree)


def _update_actors_simultaneously(learner, networks, critic_params, obs, weights, hparams, key) -> ActorUpdate:
    """Every actor's step from one loss at the same weights. ``accumulated`` is the
    reference's accumulation had no actor moved between its passes (then every pass gives
    the same gradients): actor n's own clipped gradient plus N − 1 − n times the raw one;
    ``critic_grads`` N times the one pass's."""
    input_stats = update_input_stats(learner.actor_input_stats, obs)
    (grads, critic_grads), z = _actor_and_critic_grads(
        learner.actor_params, networks, critic_params, obs, input_stats, weights, hparams, key
    )
    clipped = clip_per_agent(grads, hparams.actor_grad_clip)
    params, opt_state = actor_step(learner.actor_params, learner.actor_opt_state, clipped, hparams)
    n_agents = z.shape[1]
    later_passes = jnp.arange(n_agents - 1, -1, -1, dtype=jnp.float32)
    accumulated = jax.tree.map(
        lambda own, g: own + later_passes.reshape((-1,) + (1,) * (g.ndim - 1)) * g, clipped, grads
    )
    layer_norms = diagnostics.actor_grad_norms(grads)
    return ActorUpdate(
        params=params,
        opt_state=opt_state,
        layer_norms=layer_norms,
        total_norms=diagnostics.actor_total_norms(grads, layer_norms),
        z=z,
        accumulated=accumulated,
        critic_grads=jax.tree.map(lambda g: n_agents * g, critic_grads),
        input_stats=input_stats,
    )


def _update_actors_sequentially(learner, networks, critic_params, obs, weights, hparams, key) -> ActorUpdate:
    """Actor n is updated from a loss in which actors 0 … n−1 are already updated (stochastic
    actors: every pass samples with the same ``key``).

    ``accumulated`` follows the reference's gradient buffers exactly: pass p's backward
    writes into every actor's ``.grad``, but actor p's was zeroed just before it (so it
    holds its own gradient, clipped in place before its step) and a later actor's will be
    zeroed at its own pass. Actor n's buffer after the loop is therefore its own clipped
    gradient plus the raw gradients of passes n+1 … N−1."""
    n_agents = jax.tree.leaves(learner.actor_params)[0].shape[0]
    agents = jnp.arange(n_agents)

    def update_one(carry, agent):
        params, opt_state, accumulated, critic_grads, input_stats = carry
        input_stats = update_input_stats(input_stats, obs)
        (grads, pass_critic_grads), z = _actor_and_critic_grads(
            params, networks, critic_params, obs, input_stats, weights, hparams, key
        )
        clipped = clip_per_agent(grads, hparams.actor_grad_clip)
        new_params, new_opt_state = actor_step(params, opt_state, clipped, hparams)
        is_agent = agents == agent
        pick = lambda new, old: jnp.where(is_agent.reshape((-1,) + (1,) * (new.ndim - 1)), new, old)
        written = jax.tree.map(jnp.add, _by_agent(is_agent, clipped), _by_agent(agents < agent, grads))
        carry = (
            jax.tree.map(pick, new_params, params),
            jax.tree.map(pick, new_opt_state, opt_state),
            jax.tree.map(jnp.add, accumulated, written),
            jax.tree.map(jnp.add, critic_grads, pass_critic_grads),
            input_stats,
        )
        layer_norms = diagnostics.actor_grad_norms(grads)
        return carry, (layer_norms[agent], diagnostics.actor_total_norms(grads, layer_norms)[agent], z)

    zeros = lambda tree: jax.tree.map(jnp.zeros_like, tree)
    start = (
        learner.actor_params,
        learner.actor_opt_state,
        zeros(learner.actor_params),
        zeros(critic_params),
        learner.actor_input_stats,
    )
    (params, opt_state, accumulated, critic_grads, input_stats), (layer_norms, total_norms, z_per_turn) = jax.lax.scan(
        update_one, start, agents
    )
    # z of the first turn: every actor before any update, as in the simultaneous mode.
    return ActorUpdate(
        params, opt_state, layer_norms, total_norms, z_per_turn[0], accumulated, critic_grads, input_stats
    )


def _gradient_metrics(actors: ActorUpdate, critic_grads, clipped_critic_grads) -> dict[str, chex.Array]:
    """The update's gradient norms (before any clipping), and the reference's logged norms:
    its .grad buffers after the loop over agents (``ActorUpdate``), in total and per layer."""
    critic_norms = diagnostics.critic_grad_norms(critic_grads)
    actor_rms = diagnostics.rms_over_agents(actors.total_norms)
    critic_total = diagnostics.total_norm(critic_norms)
    accumulated_actor_layers = diagnostics.actor_grad_norms(actors.accumulated)
    accumulated_actor = diagnostics.rms_over_agents(
        diagnostics.actor_total_norms(actors.accumulated, accumulated_actor_layers)
    )
    accumulated_critic_grads = jax.tree.map(jnp.add, clipped_critic_grads, actors.critic_grads)
    accumulated_critic = diagnostics.tree_norm(accumulated_critic_grads)
    return {
        "actor_grad_norm": actor_rms,
        "actor_grad_norm_layers": diagnostics.rms_over_agents(actors.layer_norms),
        "actor_grad_norm_agents": actors.total_norms,
        "critic_grad_norm": critic_total,
        "critic_grad_norm_layers": critic_norms,
        "grad_ratio": diagnostics.gradient_ratio(actor_rms, critic_total),
        "accumulated_actor_grad_norm": accumulated_actor,
        "accumulated_actor_grad_norm_layers": diagnostics.rms_over_agents(accumulated_actor_layers),
        "accumulated_critic_grad_norm": accumulated_critic,
        "accumulated_critic_grad_norm_layers": diagnostics.critic_grad_norms(accumulated_critic_grads),
        "accumulated_grad_ratio": diagnostics.gradient_ratio(accumulated_actor, accumulated_critic),
    }


def train_step(
    learner: LearnerState,
    batch: Transition,
    weights: chex.Array,
    hparams: HyperParams,
    networks: Networks,
    config: TrainConfig,
    key: chex.PRNGKey | None = None,
):
    """One train step on a batch (leading axis B) with importance weights (B,); ``key``:
    the actor loss's sample of stochastic actors (unused by deterministic ones).

    Returns (new learner state, per-sample squared errors (B,) for the priorities, metrics).
    Gradient norms in the metrics are those before any clipping.
    """
    chex.assert_rank(batch.obs, 3)
    chex.assert_shape(weights, (batch.obs.shape[0],))
    targets = td_targets(networks, learner, batch.reward, batch.next_obs, batch.done, hparams)
    (loss, aux), critic_grads = jax.value_and_grad(critic_loss, has_aux=True)(
        learner.critic_params, networks, batch, targets, weights, config.env.max_accepted, hparams.full_normalisation
    )
    clipped_critic_grads = clip_global(critic_grads, hparams.critic_grad_clip)
    updates, critic_opt_state = adam(hparams.critic_lr).update(
        clipped_critic_grads, learner.critic_opt_state, learner.critic_params
    )
    critic_params = optax.apply_updates(learner.critic_params, updates)

    update_actors = (
        _update_actors_simultaneously if config.actor_update == "simultaneous" else _update_actors_sequentially
    )
    actors = update_actors(learner, networks, critic_params, batch.obs, weights, hparams, key)

    new_learner = learner.replace(
        actor_params=actors.params,
        actor_target=actors.params,
        actor_opt_state=actors.opt_state,
        critic_params=critic_params,
        critic_target=critic_params,
        critic_opt_state=critic_opt_state,
        actor_input_stats=actors.input_stats,
    )

    metrics = {
        "critic_loss": loss,
        "mean_q": aux["mean_q"],
        "td_error": aux["td_error"],
        **_gradient_metrics(actors, critic_grads, clipped_critic_grads),
        "actor_max_delta": diagnostics.max_abs_change_per_agent(learner.actor_params, actors.params),
        "critic_max_delta": diagnostics.max_abs_change(learner.critic_params, critic_params),
        **diagnostics.preactivation_stats(actors.z, apply_output_activation(actors.z, hparams.output_activation)),
    }
    return new_learner, aux["errors"], metric_schema.checked(metric_schema.CCM, metrics, "update")
