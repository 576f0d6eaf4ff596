"""The networks of the replay learners written out in NumPy float64, and a random batch, for
tests that check a learner's losses against a plain formulation."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxmadrl.agents.networks import layer_names
from jaxmadrl.agents.off_policy import Transition


def dense64(params: dict, x: np.ndarray) -> np.ndarray:
    """A ReLU network with a linear output layer, ``params`` the tree of one network
    (``{"params": {"fc1": {"kernel", "bias"}, …}}``), in float64."""
    names = layer_names(params)
    x = np.float64(x)
    for i, name in enumerate(names):
        layer = params["params"][name]
        x = x @ np.float64(layer["kernel"]) + np.float64(layer["bias"])
        if i < len(names) - 1:
            x = np.maximum(x, 0.0)
    return x


def member(params: dict, index: int) -> dict:
    """The dense layers of one network of parameters stacked on a leading axis (an actor of
    the ensemble, a twin critic)."""
    layers = layer_names({"params": params})
    return {"params": {name: {k: np.asarray(v)[index] for k, v in params[name].items()} for name in layers}}


def actors64(actor_params: dict, obs: np.ndarray) -> np.ndarray:
    """The stacked actors' output pre-activations (B, N, A) on obs (B, N, O)."""
    n_agents = obs.shape[1]
    return np.stack([dense64(member(actor_params["params"], n), obs[:, n]) for n in range(n_agents)], axis=1)


def critic64(critic_params: dict, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """A central critic's Q (B,) of obs (B, N, O) and actions (B, N, A)."""
    joint = np.concatenate([obs.reshape(len(obs), -1), actions.reshape(len(actions), -1)], axis=-1)
    return dense64(critic_params, joint)[:, 0]


def twins64(critic_params: dict, obs: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Twin critics' Q (C, B)."""
    twins = critic_params["params"]["twins"]
    count = len(np.asarray(twins["fc1"]["kernel"]))
    return np.stack([critic64(member(twins, c), obs, actions) for c in range(count)])


def random_batch(key, size=8, n_agents=1, obs_dim=3, action_dim=1):
    k_obs, k_actions, k_next = jax.random.split(key, 3)
    return Transition(
        obs=jax.random.normal(k_obs, (size, n_agents, obs_dim)),
        actions=jax.random.uniform(k_actions, (size, n_agents, action_dim), minval=-1, maxval=1),
        reward=jnp.arange(float(size)),
        next_obs=jax.random.normal(k_next, (size, n_agents, obs_dim)),
        terminated=jnp.array([1.0, 0.0] * (size // 2)),
    )
