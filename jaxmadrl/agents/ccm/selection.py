"""Master's offloading decision for one environment step.

Each client agent proposes to offload its task (``actor_actions[n, 0] >= 0``).
The master accepts proposals subject to two server constraints: at most
``max_accepted`` channels and at most ``storage_mb`` MB of stored tasks. When
the proposals exceed a constraint the master either explores (random
selection, with probability ``epsilon`` during training) or greedily accepts
proposers in descending order of its critic's Q-value.

Everything is branch-free (``jnp.where``) so :func:`select_offloading` can be
jitted and vmapped over environments and configurations.
"""

import chex
import jax
import jax.numpy as jnp
from flax import struct

from jaxmadrl.envs.admission import admit, exceeds_limits


@struct.dataclass
class OffloadSelection:
    """Result of :func:`select_offloading`.

    Attributes:
        selected: float32 (N,), 1.0 for agents whose task the master accepts
            for offloading, 0.0 otherwise.
        constraint_exceeded: bool (), whether the proposers together exceeded
            the channel count or the server storage (the "server overflow"
            event), regardless of which selection branch was taken.
    """

    selected: jax.Array
    constraint_exceeded: jax.Array


def _random_selection(
    key: chex.PRNGKey,
    task_sizes: jax.Array,
    max_accepted: int,
    storage_mb: float,
) -> jax.Array:
    """Draws ``max_accepted`` agents uniformly from all agents, then trims.

    Proposals are deliberately ignored, as in the reference implementation.
    Agents are dropped from the end of the random order until the remaining
    size sum is <= ``storage_mb``.

    Args:
        key: PRNG key.
        task_sizes: float32 (N,), MB.
        max_accepted: number of agents drawn.
        storage_mb: server storage in MB.

    Returns:
        float32 (N,) 0/1 mask of accepted agents.
    """
    drawn = jax.random.permutation(key, task_sizes.shape[0])[:max_accepted]
    # Sizes are non-negative, so the cumulative sum is monotone and the kept
    # agents form a prefix of the random order.
    keep = jnp.cumsum(task_sizes[drawn]) <= storage_mb
    return jnp.zeros(task_sizes.shape, jnp.float32).at[drawn].set(keep.astype(jnp.float32))


def select_offloading(
    key: chex.PRNGKey,
    actor_actions: jax.Array,
    q_values: jax.Array,
    task_sizes: jax.Array,
    epsilon: jax.Array,
    explore: jax.Array,
    max_accepted: int,
    storage_mb: float = 400.0,
) -> OffloadSelection:
    """Decides which agents' offloading proposals the master accepts.

    If at least one agent proposes and the proposers exceed the channel count
    (more than ``max_accepted``) or the storage (size sum > ``storage_mb``):
    with probability ``epsilon`` (only when ``explore``) a random selection is
    made (see :func:`_random_selection`), otherwise a greedy one by Q-value
    (``envs.admission.admit`` in descending Q order). Otherwise every proposer is accepted.

    Args:
        key: PRNG key, used for the exploration coin and the random draw.
        actor_actions: float32 (N, 3), actor outputs in [-1, 1]; agent n
            proposes to offload iff ``actor_actions[n, 0] >= 0``.
        q_values: float32 (N,), master critic value of each agent's row; values
            of non-proposers are ignored.
        task_sizes: float32 (N,), task size of each agent in MB.
        epsilon: float32 (), exploration probability.
        explore: bool (), True during training; False disables the random
            branch (greedy evaluation).
        max_accepted: static int, maximum number of accepted agents (channels).
        storage_mb: server storage in MB.

    Returns:
        :class:`OffloadSelection` with ``selected`` float32 (N,) and
        ``constraint_exceeded`` bool ().
    """
    num_agents = actor_actions.shape[0]
    chex.assert_shape(actor_actions, (num_agents, 3))
    chex.assert_shape([q_values, task_sizes], (num_agents,))
    chex.assert_rank([epsilon, explore], 0)

    proposed = actor_actions[:, 0] >= 0
    constraint_exceeded = exceeds_limits(proposed, task_sizes, max_accepted, storage_mb)

    coin_key, draw_key = jax.random.split(key)
    take_random = explore & (jax.random.uniform(coin_key) <= epsilon)

    constrained_selection = jnp.where(
        take_random,
        _random_selection(draw_key, task_sizes, max_accepted, storage_mb),
        admit(proposed, q_values, task_sizes, max_accepted, storage_mb),
    )
    selected = jnp.where(constraint_exceeded, constrained_selection, proposed.astype(jnp.float32))
    return OffloadSelection(selected=selected, constraint_exceeded=constraint_exceeded)
