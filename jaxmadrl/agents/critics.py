"""The centralised critic of the learners outside MEC, alone (DDPG) or as twins (TD3,
SAC), and the gradient instruments read off them.

A critic maps all observations (..., N, O) and all actions (..., N, A) to a scalar Q. Twin
critics are C independent copies with their parameters stacked on a leading axis C; a
single critic keeps the plain parameter tree (no leading axis), so that DDPG computes
exactly what it did before twins existed.
"""

from __future__ import annotations

from typing import Sequence

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxmadrl.agents import diagnostics
from jaxmadrl.agents.networks import OUTPUT_INIT_BOUND, Linear


class CentralCritic(nn.Module):
    """Q(all observations (..., N, O), all actions (..., N, A)) → (...), or without actions
    the state value V(all observations): dense layers ``fc1 … fcK`` with ReLU (PyTorch's
    default initialisation), output layer U(±3e-3)."""

    hidden: Sequence[int] = (256, 256)

    @nn.compact
    def __call__(self, obs, actions=None):
        flat = lambda x: x.reshape(*x.shape[:-2], -1)
        x = flat(obs) if actions is None else jnp.concatenate([flat(obs), flat(actions)], axis=-1)
        for i, width in enumerate(self.hidden):
            x = nn.relu(Linear(width, name=f"fc{i + 1}")(x))
        return Linear(1, init_bound=OUTPUT_INIT_BOUND, name=f"fc{len(self.hidden) + 1}")(x)[..., 0]


class TwinCritics(nn.Module):
    """``count`` critics on one input → Q (count, ...); their parameters (under ``twins``)
    are stacked on a leading axis, each copy initialised from its own key."""

    hidden: Sequence[int]
    count: int

    @nn.compact
    def __call__(self, obs, actions):
        copies = nn.vmap(
            CentralCritic,
            in_axes=None,
            out_axes=0,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            axis_size=self.count,
        )
        return copies(self.hidden, name="twins")(obs, actions)


def critics_of(hidden: Sequence[int], count: int) -> nn.Module:
    """The network of ``count`` critics: the plain ``CentralCritic`` for one, ``TwinCritics``
    of ``count`` copies otherwise."""
    if count == 1:
        return CentralCritic(hidden=tuple(hidden))
    return TwinCritics(hidden=tuple(hidden), count=count)


def q_values(critics: nn.Module, params, obs: chex.Array, actions: chex.Array) -> chex.Array:
    """Every critic's Q of (obs (..., N, O), actions (..., N, A)) → (C, ...)."""
    q = critics.apply(params, obs, actions)
    return q if isinstance(critics, TwinCritics) else q[None]


def td_loss(critic_params, critic: nn.Module, obs, actions, targets: chex.Array):
    """The sum over critics of each one's mean squared TD error against ``targets`` (B,)
    → (loss, Q (C, B))."""
    q = q_values(critic, critic_params, obs, actions)
    loss = jnp.mean(jnp.square(q - targets))
    return (q.shape[0] * loss if q.shape[0] > 1 else loss), q


def critic_gradient_metrics(critic_grads) -> dict[str, chex.Array]:
    """Gradient norms of the critics' parameters: ``critic_grad_norm_layers`` (L) and
    ``critic_grad_norm`` are those of a single critic, or of twins the root mean square
    over critics (as the actors' are over agents); twins also give
    ``critic_input_grad_norm`` (C): each critic's first-layer norm (0: that critic is dead)."""
    if "twins" not in critic_grads["params"]:
        layers = diagnostics.critic_grad_norms(critic_grads)
        return {"critic_grad_norm_layers": layers, "critic_grad_norm": diagnostics.total_norm(layers)}
    layers = jax.vmap(diagnostics.critic_grad_norms)({"params": critic_grads["params"]["twins"]})  # (C, L)
    return {
        "critic_grad_norm_layers": diagnostics.rms_over_agents(layers),
        "critic_grad_norm": diagnostics.rms_over_agents(diagnostics.total_norm(layers)),
        "critic_input_grad_norm": layers[:, 0],
    }
