"""The client actors (one stacked ensemble) and the master critic.

Layers are named ``fc1 … fcK`` so per-layer diagnostics read the same for both networks.
Hidden layers use PyTorch's default initialisation, U(±1/√fan_in) for weights and biases;
the output layer uses U(±3e-3), as in the system being reproduced.
"""

from __future__ import annotations

import math
from typing import Sequence

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.core.activations import apply_output_activation
from jaxmadrl.envs.domains import MEC
from jaxmadrl.envs.mec import ACTION_DIM, OBS_DIM

OUTPUT_INIT_BOUND = 3e-3


def uniform_init(bound: float):
    """Initialiser drawing every entry from U(-bound, bound)."""

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


class Linear(nn.Module):
    """Dense layer with PyTorch's default initialisation, or U(±init_bound) if given."""

    features: int
    init_bound: float | None = None

    @nn.compact
    def __call__(self, x):
        bound = self.init_bound if self.init_bound is not None else 1.0 / math.sqrt(x.shape[-1])
        kernel = self.param("kernel", uniform_init(bound), (x.shape[-1], self.features))
        bias = self.param("bias", uniform_init(bound), (self.features,))
        return x @ kernel + bias


class Actor(nn.Module):
    """One client actor: obs (..., 7) → output pre-activation z (..., 3).

    ``layer_norm`` (traced scalar, 0 or 1): when 1, z is passed through a LayerNorm over
    the 3 outputs (learnable scale and bias, ``output_norm``) — a mitigation of output
    saturation. ``linear_hidden`` (traced, 0 or 1): when 1, the hidden layers have no ReLU.
    ``hidden_norm`` (traced, 0 or 1): when 1, a LayerNorm (learnable, ``hidden_norm{i}``)
    follows each hidden layer's activation — part of the full normalisation, which puts
    none before the output activation. The output activation is applied by the caller
    (``apply_output_activation``), so that z is at hand for the saturation diagnostics.
    """

    action_dim: int = ACTION_DIM
    hidden: Sequence[int] = TrainConfig.actor_hidden
    hidden_norms: bool = True  # built at all; without them ``hidden_norm`` must be 0

    @nn.compact
    def __call__(self, obs, layer_norm=0.0, linear_hidden=0.0, hidden_norm=0.0):
        x = obs
        for i, width in enumerate(self.hidden):
            x = Linear(width, name=f"fc{i + 1}")(x)
            x = jnp.where(linear_hidden > 0, x, nn.relu(x))
            if self.hidden_norms:
                x = jnp.where(hidden_norm > 0, nn.LayerNorm(epsilon=1e-5, name=f"hidden_norm{i + 1}")(x), x)
        z = Linear(self.action_dim, init_bound=OUTPUT_INIT_BOUND, name=f"fc{len(self.hidden) + 1}")(x)
        normalised = nn.LayerNorm(epsilon=1e-5, name="output_norm")(z)
        return jnp.where(layer_norm > 0, normalised, z)


# N independent actors with parameters stacked on a leading agent axis; input (N, ..., 7).
ActorEnsemble = nn.vmap(
    Actor, in_axes=(0, None, None, None), out_axes=0, variable_axes={"params": 0}, split_rngs={"params": True}
)


class SplitInputLinear(nn.Module):
    """First critic layer on the input [joint (J,), own (O,)], stored as two kernels.

    W·[joint; own] + b = (W_joint·joint + b) + W_own·own: the joint part is computed once
    per sample and shared by all agent rows. Initialised as one layer of fan-in J + O.
    """

    joint_dim: int
    own_dim: int
    features: int

    def setup(self):
        init = uniform_init(1.0 / math.sqrt(self.joint_dim + self.own_dim))
        self.joint_kernel = self.param("joint_kernel", init, (self.joint_dim, self.features))
        self.own_kernel = self.param("own_kernel", init, (self.own_dim, self.features))
        self.bias = self.param("bias", init, (self.features,))

    def joint(self, joint_input):
        return joint_input @ self.joint_kernel + self.bias

    def own(self, own_input):
        return own_input @ self.own_kernel


class Critic(nn.Module):
    """The master critic Q(all states, all actions, own state, own action) → scalar.

    ``__call__`` takes the concatenated input (..., 10N + 10) as the reference does; the
    fast path is ``joint_features`` once per sample, then ``head`` per agent row.
    ``hidden_norm`` (traced, 0 or 1): when 1, a LayerNorm follows each hidden ReLU.
    """

    n_agents: int
    obs_dim: int = OBS_DIM
    action_dim: int = ACTION_DIM
    hidden: Sequence[int] = TrainConfig.critic_hidden
    hidden_norms: bool = True  # built at all; without them ``hidden_norm`` must be 0

    def setup(self):
        self.fc1 = SplitInputLinear(
            self.n_agents * (self.obs_dim + self.action_dim), self.obs_dim + self.action_dim, self.hidden[0]
        )
        self.later = [Linear(width, name=f"fc{i + 2}") for i, width in enumerate(self.hidden[1:])]
        widths = range(len(self.hidden)) if self.hidden_norms else ()
        self.norms = [nn.LayerNorm(epsilon=1e-5, name=f"hidden_norm{i + 1}") for i in widths]
        self.out = Linear(1, init_bound=OUTPUT_INIT_BOUND, name=f"fc{len(self.hidden) + 1}")

    def _from_first_layer(self, preactivation, hidden_norm):
        """The rest of the network from the first layer's pre-activation (..., H1) → Q (...)."""
        x = preactivation
        for i, layer in enumerate([lambda first: first, *self.later]):
            x = nn.relu(layer(x))
            if self.hidden_norms:
                x = jnp.where(hidden_norm > 0, self.norms[i](x), x)
        return self.out(x)[..., 0]

    def joint_features(self, obs, actions):
        """obs (..., N, 7), actions (..., N, 3) → first-layer joint part (..., H1)."""
        flat = jnp.concatenate([obs.reshape(*obs.shape[:-2], -1), actions.reshape(*actions.shape[:-2], -1)], axis=-1)
        return self.fc1.joint(flat)

    def head(self, joint_features, own_obs, own_action, hidden_norm=0.0):
        """joint (..., H1), own obs (..., 7), own action (..., 3) → Q (...)."""
        own = self.fc1.own(jnp.concatenate([own_obs, own_action], -1))
        return self._from_first_layer(joint_features + own, hidden_norm)

    def zero_row(self, joint_features, hidden_norm=0.0):
        """Q with own state and own action all zeros (no agent considered) → (...)."""
        return self._from_first_layer(joint_features, hidden_norm)

    def __call__(self, critic_input, hidden_norm=0.0):
        """The plain form on the concatenated input [states, actions, own state, own action]."""
        n_joint = self.n_agents * (self.obs_dim + self.action_dim)
        preactivation = self.fc1.joint(critic_input[..., :n_joint]) + self.fc1.own(critic_input[..., n_joint:])
        return self._from_first_layer(preactivation, hidden_norm)


@chex.dataclass(frozen=True)
class Networks:
    """The two network definitions of one configuration (static, no parameters)."""

    actor: nn.Module
    critic: Critic

    @property
    def stochastic(self) -> bool:
        """Whether the actors are tanh-squashed Gaussians: twice the critic's action outputs."""
        return self.actor.action_dim == 2 * self.critic.action_dim


def make_networks(
    n_agents: int,
    actor_hidden: Sequence[int] = TrainConfig.actor_hidden,
    critic_hidden: Sequence[int] = TrainConfig.critic_hidden,
    obs_dim: int = OBS_DIM,
    action_dim: int = ACTION_DIM,
    hidden_norms: bool = True,
    stochastic: bool = False,
) -> Networks:
    """``hidden_norms``: build the hidden LayerNorms of full normalisation (needed only if a
    configuration switches it on; off, the networks compute the same without them).
    ``stochastic``: actors with a mean and a log-std head each (2 × ``action_dim`` outputs,
    ``tanh_gaussian``) for the critic's ``action_dim`` actions."""
    outputs = 2 * action_dim if stochastic else action_dim
    return Networks(
        actor=ActorEnsemble(action_dim=outputs, hidden=tuple(actor_hidden), hidden_norms=hidden_norms),
        critic=Critic(
            n_agents=n_agents,
            obs_dim=obs_dim,
            action_dim=action_dim,
            hidden=tuple(critic_hidden),
            hidden_norms=hidden_norms,
        ),
    )


def init_params(
    key: chex.PRNGKey, networks: Networks, n_agents: int, obs_dim: int = OBS_DIM, action_dim: int = ACTION_DIM
):
    """Returns (actor params with leading agent axis N, critic params)."""
    k_actor, k_critic = jax.random.split(key)
    actor_params = networks.actor.init(k_actor, jnp.zeros((n_agents, obs_dim)), 0.0, 0.0, 0.0)
    critic_input = jnp.zeros((n_agents * (obs_dim + action_dim) + obs_dim + action_dim,))
    critic_params = networks.critic.init(k_critic, critic_input)
    return actor_params, critic_params


def with_default_output_init(actor_params, enabled: chex.Array):
    """The actors' output layer drawn from PyTorch's default U(±1/√fan_in) instead of
    U(±3e-3) where ``enabled`` (traced, 0 or 1) is 1, as the full-normalisation actors of
    the system being reproduced are: the same uniform draw, scaled."""
    output_layer = layer_names(actor_params)[-1]
    layer = actor_params["params"][output_layer]
    scale = (1.0 / math.sqrt(layer["kernel"].shape[-2])) / OUTPUT_INIT_BOUND
    rescaled = jax.tree.map(lambda w: jnp.where(enabled > 0, w * scale, w), layer)
    return {**actor_params, "params": {**actor_params["params"], output_layer: rescaled}}


def with_active_units(params, units: chex.Array):
    """A network's parameters (dense layers ``fc1 … fcK`` under ``params``, or under
    ``params.twins``; any leading axes) with only the first ``units[l]`` units of hidden
    layer l + 1 alive, as a network of those widths is: a masked unit's incoming weights and
    bias are 0, so its ReLU output is exactly 0 and so is every gradient of its weights
    (JAX's ReLU has derivative 0 at 0), and Adam leaves them as they are. A hidden layer
    after the first draws at the fan-in of the units alive before it, U(±1/√active), as
    PyTorch initialises a network of that size: the same uniform draw, scaled. ``units``
    (L,) per hidden layer (traced: lanes of one program differ in it)."""
    tree = params["params"]
    layers = tree["twins"] if "twins" in tree else tree
    names = layer_names({"params": layers})
    alive = {}
    for i, name in enumerate(names):
        layer = dict(layers[name])
        if 0 < i < len(names) - 1:  # a hidden layer fed by a hidden layer: PyTorch's bound of its active fan-in
            full = layer["kernel"].shape[-2]
            scale = jnp.sqrt(jnp.float32(full) / jnp.maximum(units[i - 1], 1.0))
            layer = {k: v * scale for k, v in layer.items()}
        if i < len(names) - 1:
            mask = jnp.arange(layer["kernel"].shape[-1]) < units[i]
            layer = {k: jnp.where(mask, v, jnp.zeros_like(v)) for k, v in layer.items()}
        alive[name] = layer
    masked = {**layers, **alive}
    return {**params, "params": {**tree, "twins": masked} if "twins" in tree else masked}


def sized(actor_params, critic_params, config: TrainConfig, hparams: HyperParams | None):
    """(actor params, critic params) as initialised, or where the lanes of ``config``'s program
    differ in size (``masked_sizes``) with each lane's units alive (``with_active_units``)."""
    if not config.masked_sizes:
        return actor_params, critic_params
    return with_active_units(actor_params, hparams.actor_units), with_active_units(critic_params, hparams.critic_units)


def layer_names(params) -> list[str]:
    """The dense layers ``fc1 … fcK`` of a network's parameters (or gradients), in layer
    order; other parameters, such as the actors' optional output LayerNorm, are not layers
    here. The last is the output layer."""
    return sorted((name for name in params["params"] if name.startswith("fc")), key=lambda name: int(name[2:]))


def parameter_count(widths: Sequence[int]) -> int:
    """Weights and biases of a fully connected network through ``widths`` (input, hidden
    …, output)."""
    return sum((w_in + 1) * w_out for w_in, w_out in zip(widths[:-1], widths[1:]))


def actor_parameter_count(actor_hidden: Sequence[int]) -> int:
    """Dense-layer parameters of one actor (observation → hidden … → action; the optional
    LayerNorms' parameters not counted)."""
    return parameter_count((OBS_DIM, *actor_hidden, ACTION_DIM))


def critic_parameter_count(n_agents: int, critic_hidden: Sequence[int]) -> int:
    """Dense-layer parameters of the critic (input 10N + 10 → hidden … → 1; the optional
    LayerNorms' parameters not counted)."""
    return parameter_count(((n_agents + 1) * (OBS_DIM + ACTION_DIM), *critic_hidden, 1))


def parameter_counts(config) -> tuple[int, int]:
    """(dense parameters of one actor, of one critic) of a ``TrainConfig``'s networks (the
    optional LayerNorms' not counted)."""
    if config.domain == MEC:
        return actor_parameter_count(config.actor_hidden), critic_parameter_count(
            config.env.n_agents, config.critic_hidden
        )
    spec = config.spec
    outputs = 2 * spec.action_dim if config.learner_name == "sac" else spec.action_dim  # SAC: mean and log-std
    critic_inputs = spec.n_agents * (spec.obs_dim + (0 if config.learner_name == "ppo" else spec.action_dim))
    return (
        parameter_count((spec.obs_dim, *config.actor_hidden, outputs)),  # PPO's log-std (A) not counted
        parameter_count((critic_inputs, *config.critic_hidden, 1)),
    )


def ensemble_preactivations(actor: nn.Module, actor_params, x: chex.Array, hparams: HyperParams) -> chex.Array:
    """The stacked actors' output pre-activations z (..., N, A) on their inputs x (..., N, O);
    any traced mitigation applies."""
    z = actor.apply(
        actor_params, jnp.moveaxis(x, -2, 0), hparams.layer_norm, hparams.linear_hidden, hparams.full_normalisation
    )
    return jnp.moveaxis(z, 0, -2)


def ensemble_outputs(actor: nn.Module, actor_params, x: chex.Array, hparams: HyperParams):
    """The stacked actors on their inputs x (..., N, O) → (outputs (..., N, A) of the output
    activation, pre-activations z (..., N, A)); any traced mitigation applies."""
    z = ensemble_preactivations(actor, actor_params, x, hparams)
    return apply_output_activation(z, hparams.output_activation), z
