"""The MEC environment for the rest of the JAX RL ecosystem (needs the domains extra):

- ``MecGymnax``: a gymnax ``Environment`` for one learner, which sees the joint (N, 7)
  observation and gives the joint (N, 3) action;
- ``MecJaxMARL``: a JaxMARL ``MultiAgentEnv`` of N client agents ``agent_0 …``, each with
  its own (7,) observation and (3,) action, all given the one shared reward.

Without CCM-MADRL's learned master the server's limits are enforced inside the environment
by one stated rule (``admitted_action``): device n proposes to offload when its decision
output ``u_n0 ≥ 0``; proposals are admitted in descending order of ``u_n0`` (the most
insistent first; ties: the higher index) while both limits allow (``envs.admission``); its
compute and power fractions are ``mec.actor_output_to_fraction(u_n1, u_n2)``. Actions are
actor outputs in [-1, 1]. The devices are fixed for an environment instance, as they are
for a seed in jaxmadrl: drawn from ``world_seed``'s key, or the reference's world when
``params.world == "reference"``. An episode ends by its time limit (``steps_per_episode``).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment as gymnax_environment
from gymnax.environments import spaces as gymnax_spaces
from jaxmarl.environments import multi_agent_env
from jaxmarl.environments import spaces as jaxmarl_spaces

from jaxmadrl.envs import mec
from jaxmadrl.envs.admission import admit, exceeds_limits


def admitted_action(outputs: chex.Array, state: mec.EnvState, params: mec.EnvParams):
    """Actor outputs (N, 3) in [-1, 1] → (env action (N, 3) [admitted 0/1, alpha, rho],
    whether the proposals exceeded the server's limits (bool ())), by the module's rule."""
    chex.assert_shape(outputs, (params.n_agents, mec.ACTION_DIM))
    proposed = outputs[:, 0] >= 0
    admitted = admit(proposed, outputs[:, 0], state.size_mb, params.max_accepted, params.server_storage_mb)
    overflow = exceeds_limits(proposed, state.size_mb, params.max_accepted, params.server_storage_mb)
    return mec.to_env_action(admitted, outputs), overflow


def _world(params: mec.EnvParams, world_seed: int) -> mec.World:
    return mec.make_world(jax.random.key(world_seed), params)


def _step(key, state: mec.EnvState, outputs, params: mec.EnvParams):
    """jaxmadrl's own step on the admitted action: (obs, state, reward, done, info)."""
    action, overflow = admitted_action(outputs, state, params)
    obs, next_state, reward, done, info = mec.step(key, state, action, params)
    return obs, next_state, reward, done, {**info, "server_overflow": overflow}


@struct.dataclass
class GymnaxState:
    """The MEC state and gymnax's step counter ``time``."""

    mec: mec.EnvState
    time: chex.Array


class MecGymnax(gymnax_environment.Environment):
    """The joint MEC problem as one gymnax environment; ``params`` is ``mec.EnvParams``."""

    def __init__(self, params: mec.EnvParams = mec.EnvParams(), world_seed: int = 0):
        super().__init__()
        self._params, self.world = params, _world(params, world_seed)

    @property
    def default_params(self) -> mec.EnvParams:
        return self._params

    def reset_env(self, key, params: mec.EnvParams):
        obs, state = mec.reset(key, self.world, params)
        return obs, GymnaxState(mec=state, time=jnp.zeros((), jnp.int32))

    def step_env(self, key, state: GymnaxState, action, params: mec.EnvParams):
        obs, next_state, reward, _, info = _step(key, state.mec, action, params)
        return obs, GymnaxState(mec=next_state, time=state.time + 1), reward, jnp.array(False), info

    def is_truncated(self, state: GymnaxState, params: mec.EnvParams):
        return state.time >= params.steps_per_episode

    def is_terminated(self, state: GymnaxState, params: mec.EnvParams):
        return jnp.array(False)

    @property
    def name(self) -> str:
        return "MEC-v0"

    @property
    def num_actions(self) -> int:
        return self._params.n_agents * mec.ACTION_DIM

    def action_space(self, params: mec.EnvParams | None = None):
        return gymnax_spaces.Box(-1.0, 1.0, ((params or self._params).n_agents, mec.ACTION_DIM))

    def observation_space(self, params: mec.EnvParams | None = None):
        return gymnax_spaces.Box(0.0, jnp.inf, ((params or self._params).n_agents, mec.OBS_DIM))


@struct.dataclass
class JaxMARLState(multi_agent_env.State):
    """JaxMARL's ``done`` and ``step`` and the MEC state."""

    mec: mec.EnvState


class MecJaxMARL(multi_agent_env.MultiAgentEnv):
    """N client agents of one MEC world; every agent gets the shared reward."""

    def __init__(self, params: mec.EnvParams = mec.EnvParams(), world_seed: int = 0):
        super().__init__(num_agents=params.n_agents)
        self.params, self.world = params, _world(params, world_seed)
        self.observation_spaces = {a: jaxmarl_spaces.Box(0.0, jnp.inf, (mec.OBS_DIM,)) for a in self.agents}
        self.action_spaces = {a: jaxmarl_spaces.Box(-1.0, 1.0, (mec.ACTION_DIM,)) for a in self.agents}

    def reset(self, key):
        _, state = mec.reset(key, self.world, self.params)
        state = JaxMARLState(done=jnp.array(False), step=jnp.zeros((), jnp.int32), mec=state)
        return self.get_obs(state), state

    def step_env(self, key, state: JaxMARLState, actions: dict):
        outputs = jnp.stack([actions[agent] for agent in self.agents])
        _, next_mec, reward, done, info = _step(key, state.mec, outputs, self.params)
        next_state = JaxMARLState(done=done, step=state.step + 1, mec=next_mec)
        rewards = {agent: reward for agent in self.agents}
        dones = {**{agent: done for agent in self.agents}, "__all__": done}
        return self.get_obs(next_state), next_state, rewards, dones, info

    def get_obs(self, state: JaxMARLState) -> dict:
        obs = mec.observation(state.mec)
        return {agent: obs[n] for n, agent in enumerate(self.agents)}

    def observation_space(self, agent: str):
        return self.observation_spaces[agent]

    def action_space(self, agent: str):
        return self.action_spaces[agent]
