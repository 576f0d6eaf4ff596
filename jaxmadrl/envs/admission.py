"""The edge server's limits on offloading: at most ``max_accepted`` tasks per step (channels
in H2, units in TOBM) whose sizes sum strictly below the server storage.

Whoever decides which proposals to accept — CCM-MADRL's master by its critic's values, a
heuristic by its own rule — admits them through :func:`admit`, in its own priority order,
so that every policy obeys the same limits. Branch-free, so it jits and vmaps.
"""

import chex
import jax.numpy as jnp
from jax import lax


def exceeds_limits(proposed: chex.Array, size_mb: chex.Array, max_accepted: int, storage_mb: float) -> chex.Array:
    """bool (): some device proposes and the proposers exceed the count (more than
    ``max_accepted``) or the storage (size sum > ``storage_mb``). ``proposed`` bool (N,),
    ``size_mb`` (N,) MB."""
    count = jnp.sum(proposed)
    proposed_mb = jnp.sum(jnp.where(proposed, size_mb, 0.0))
    return (count > 0) & ((count > max_accepted) | (proposed_mb > storage_mb))


def admit(
    proposed: chex.Array, priority: chex.Array, size_mb: chex.Array, max_accepted: int, storage_mb: float
) -> chex.Array:
    """Visits proposers in descending ``priority`` (ties: the higher device index first) and
    accepts each while both limits allow it: fewer than ``max_accepted`` accepted and the
    accepted sizes plus its own strictly below ``storage_mb``.

    Args: ``proposed`` bool (N,), ``priority`` float (N,) (non-proposers' values ignored),
    ``size_mb`` float (N,) MB. Returns float32 (N,), 1.0 for the accepted devices.
    """
    chex.assert_equal_shape([proposed, priority, size_mb])
    masked = jnp.where(proposed, priority, -jnp.inf)
    # Reversing a stable ascending argsort reproduces the reference's visiting order
    # exactly: among equal priorities the higher device index comes first.
    visit_order = jnp.argsort(masked, stable=True)[::-1]

    def visit(carry, device):
        accepted_count, accepted_mb = carry
        is_proposer, size = device
        accept = is_proposer & (accepted_count < max_accepted) & (accepted_mb + size < storage_mb)
        carry = (accepted_count + accept.astype(jnp.int32), accepted_mb + jnp.where(accept, size, 0.0))
        return carry, accept

    initial_carry = (jnp.zeros((), jnp.int32), jnp.zeros((), size_mb.dtype))
    _, accepted_in_visit_order = lax.scan(visit, initial_carry, (proposed[visit_order], size_mb[visit_order]))
    return jnp.zeros(proposed.shape, jnp.float32).at[visit_order].set(accepted_in_visit_order.astype(jnp.float32))
