"""Heuristic MEC policies, the yardsticks offloading papers compare learners with.

Every heuristic proposes offloads and admits them through the server's limits
(``envs.admission.admit``) in its own priority order, so each obeys the same channel and
storage limits as CCM-MADRL's master:

- ``all_local``: every task computed on its device at full compute (alpha = rho = 1);
- ``offload_all``: every device proposes; admitted in device order (index 0 first), the rest
  computed locally; alpha = rho = 1;
- ``random``: each device proposes with probability 1/2, admitted in a random order;
  alpha, rho ~ U(0.01, 1);
- ``greedy``: each device compares, by the model's own energy and normalised time
  (``device_cost``: no server queue, no battery), computing locally at alpha ∈ {0.01, 1}
  with offloading at rho ∈ {0.01, 1}, and proposes if its cheapest offload beats its cheapest
  local option; admitted in descending saving.

``evaluate`` runs them on exactly the episodes of a learner's greedy evaluation (the same
``eval_key`` splits the same way, so the same tasks are drawn).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from jaxmadrl.envs import mec
from jaxmadrl.envs.admission import admit, exceeds_limits

HEURISTICS = ("all_local", "offload_all", "random", "greedy")
FRACTIONS = (mec.MIN_FRACTION, 1.0)  # the compute or power fractions greedy compares


def device_cost(state: mec.EnvState, offload: float, fraction: float, params: mec.EnvParams) -> chex.Array:
    """(N,) each device's cost (the reward's λE·energy + λT·(time + deadline penalty), time
    normalised and capped at the longest deadline) of computing its task locally at compute
    fraction ``fraction`` (``offload`` 0) or offloading it at power fraction ``fraction``
    (``offload`` 1) as if it had the server to itself."""
    n = params.n_agents
    action = jnp.stack([jnp.full(n, offload), jnp.full(n, fraction), jnp.full(n, fraction)], axis=1)
    costs = mec.device_costs(state, action, params)
    seconds = costs.t_offload + costs.t_process if offload else costs.t_local
    energy = costs.e_offload if offload else costs.e_local
    time = jnp.minimum(seconds, params.max_deadline_s) / params.max_deadline_s
    penalty = jnp.maximum(time - state.deadline_s / params.max_deadline_s, 0.0)
    return params.lambda_energy * energy + params.lambda_time * (time + penalty)


def _proposals(name: str, key: chex.PRNGKey, state: mec.EnvState, params: mec.EnvParams):
    """(proposed bool (N,), admission priority (N,), alpha (N,), rho (N,)) of one heuristic."""
    n = params.n_agents
    ones, index = jnp.ones(n), jnp.arange(n, dtype=jnp.float32)
    if name == "all_local":
        return jnp.zeros(n, bool), -index, ones, ones
    if name == "offload_all":
        return jnp.ones(n, bool), -index, ones, ones
    if name == "random":
        k_propose, k_order, k_fractions = jax.random.split(key, 3)
        alpha, rho = jax.random.uniform(k_fractions, (2, n), minval=mec.MIN_FRACTION, maxval=1.0)
        return jax.random.bernoulli(k_propose, 0.5, (n,)), jax.random.uniform(k_order, (n,)), alpha, rho
    local, remote = (jnp.stack([device_cost(state, side, f, params) for f in FRACTIONS]) for side in (0, 1))
    fractions = jnp.asarray(FRACTIONS)
    saving = jnp.min(local, axis=0) - jnp.min(remote, axis=0)
    return saving > 0, saving, fractions[jnp.argmin(local, axis=0)], fractions[jnp.argmin(remote, axis=0)]


def heuristic_action(name: str, key: chex.PRNGKey, state: mec.EnvState, params: mec.EnvParams):
    """One step of heuristic ``name``: (env action (N, 3) [admitted 0/1, alpha, rho], whether
    its proposals exceeded the server's limits (bool ()))."""
    if name not in HEURISTICS:
        raise ValueError(f"unknown heuristic {name!r}; known: {list(HEURISTICS)}")
    proposed, priority, alpha, rho = _proposals(name, key, state, params)
    admitted = admit(proposed, priority, state.size_mb, params.max_accepted, params.server_storage_mb)
    overflow = exceeds_limits(proposed, state.size_mb, params.max_accepted, params.server_storage_mb)
    return jnp.stack([admitted, alpha, rho], axis=1), overflow


def episode(name: str, key: chex.PRNGKey, world: mec.World, params: mec.EnvParams) -> dict[str, chex.Array]:
    """One episode of heuristic ``name``: the summary of ``mec.episode_summary``. Its keys
    split as a learner's greedy evaluation episode's do (reset, then per step (unused, the
    policy's, the environment's)), so the same ``key`` draws the same tasks."""
    k_reset, k_steps = jax.random.split(key)
    _, state = mec.reset(k_reset, world, params)

    def one_step(state, step_key):
        _, k_policy, k_env = jax.random.split(step_key, 3)
        action, overflow = heuristic_action(name, k_policy, state, params)
        _, state, reward, _, info = mec.step(k_env, state, action, params)
        return state, {"reward": reward, "server_overflow": overflow.astype(jnp.float32), **info}

    _, step_infos = jax.lax.scan(one_step, state, jax.random.split(k_steps, params.steps_per_episode))
    return mec.episode_summary(step_infos)


def evaluate(name: str, eval_key: chex.PRNGKey, world: mec.World, params: mec.EnvParams, episodes: int):
    """The mean summary of heuristic ``name`` over the ``episodes`` episodes that a learner's
    evaluation with ``eval_key`` runs (``eval_key`` split into ``episodes`` keys)."""
    keys = jax.random.split(eval_key, episodes)
    summaries = jax.vmap(lambda key: episode(name, key, world, params))(keys)
    return jax.tree.map(jnp.mean, summaries)
