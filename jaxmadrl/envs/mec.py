"""The mobile-edge-computing (MEC) offloading environment as pure, jittable functions.

N devices each hold one task per step. The master decides which tasks are offloaded to
the edge server (``x_n = 1``); every device also chooses the fraction ``alpha_n`` of its
own compute it uses and the fraction ``rho_n`` of its transmit power. All agents share one
reward: minus the weighted sum of energy and normalised time, plus penalties for missed
deadlines and batteries below ``min_energy``.

Functions follow the gymnax convention: ``make_world(key, params)`` draws the devices
(fixed for an environment seed), ``reset(key, world, params)`` draws the first tasks and
``step(key, state, action, params)`` advances one step. ``EnvParams`` holds only static
(compile-time) fields, so each distinct setting compiles once and its constants fold.
Units follow the system being reproduced: sizes in MB, compute in GHz, power in dBm,
gains in dB, batteries in MJ, times in seconds, energies in J.
"""

from __future__ import annotations

import math
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxmadrl.core.limits import SettingError, check_integer, check_reals

OBS_DIM = 7
ACTION_DIM = 3
MODES = ("H2", "TOBM")
SCALINGS = ("updated", "thesis")
WORLDS = ("drawn", "reference")
REFERENCE_WORLD_SEED = 42  # the reference implementation's MecEnv(N, env_seed=42)
MIN_FRACTION = 0.01  # lower bound of alpha and rho


def _static(default: Any, help: str, choices: tuple[str, ...] | None = None, range: str | None = None):
    """A static field documented once: ``help`` describes it as a flag and a sweep key;
    ``range``: the name of its range of values (``limits.RANGES``)."""
    return struct.field(pytree_node=False, default=default, metadata={"help": help, "choices": choices, "range": range})


@struct.dataclass
class EnvParams:
    """Every constant of the environment. All fields are static; each field's help says
    what it is."""

    n_agents: int = _static(50, "client agents (devices)")
    steps_per_episode: int = _static(10, "environment steps per episode")
    mode: str = _static(
        "H2",
        "server model: H2 (a shared server of n_units units, tasks queue) or TOBM "
        "(every offloaded task gets its own unit)",
        MODES,
    )
    scaling: str = _static(
        "updated",
        "task-size scaling: updated (MB → bits as ·8·1024², local energy ∝ F²) or thesis (·8·1024, local energy ∝ F)",
        SCALINGS,
    )
    world: str = _static(
        "drawn",
        "the devices: drawn (from each seed's key) or reference (the reference implementation's "
        f"NumPy world, seed {REFERENCE_WORLD_SEED}, the same for every seed)",
        WORLDS,
    )
    lambda_energy: float = _static(0.5, "reward weight of energy", range="non-negative")
    lambda_time: float = _static(0.5, "reward weight of normalised time", range="non-negative")
    min_size_mb: float = _static(1.0, "smallest task size, MB", range="positive")
    max_size_mb: float = _static(50.0, "largest task size, MB", range="positive")
    min_cycles_per_bit: float = _static(300.0, "fewest CPU cycles per task bit", range="positive")
    max_cycles_per_bit: float = _static(737.5, "most CPU cycles per task bit", range="positive")
    min_deadline_s: float = _static(0.1, "shortest task deadline, s", range="positive")
    max_deadline_s: float = _static(
        1.0, "longest task deadline, s (deadlines are drawn below 0.9 of it)", range="positive"
    )
    min_compute_ghz: float = _static(0.4, "slowest device CPU, GHz", range="positive")
    max_compute_ghz: float = _static(1.5, "fastest device CPU, GHz", range="positive")
    min_power_dbm: float = _static(1.0, "lowest device transmit power, dBm", range="finite")
    max_power_dbm: float = _static(24.0, "highest device transmit power, dBm", range="finite")
    server_compute_ghz: float = _static(4.0, "edge server CPU per unit, GHz", range="positive")
    k_energy_local: float = _static(
        5e-27, "energy factor of local computing (effective switched capacitance)", range="positive"
    )
    min_energy_mj: float = _static(0.5, "smallest initial battery, MJ", range="positive")
    max_energy_mj: float = _static(3.2, "largest initial battery, MJ", range="positive")
    harvest_j: float = _static(0.001, "energy harvested per step, J", range="non-negative")
    min_gain_db: float = _static(5.0, "lowest channel gain, dB", range="finite")
    max_gain_db: float = _static(14.0, "highest channel gain, dB", range="finite")
    bandwidth_mhz: float = _static(40.0, "total uplink bandwidth, MHz", range="positive")
    n_channels: int = _static(10, "uplink channels (H2: most offloads accepted per step)")
    server_storage_mb: float = _static(
        400.0, "edge server storage, MB (accepted task sizes must fit)", range="positive"
    )
    n_units: int = _static(8, "server processing units (TOBM: most offloads accepted per step)")

    def __post_init__(self):
        if self.mode not in MODES:
            raise SettingError("mode", f"must be one of {list(MODES)}, got {self.mode!r}")
        if self.scaling not in SCALINGS:
            raise SettingError("scaling", f"must be one of {list(SCALINGS)}, got {self.scaling!r}")
        if self.world not in WORLDS:
            raise SettingError("world", f"must be one of {list(WORLDS)}, got {self.world!r}")
        for name in ("n_agents", "steps_per_episode", "n_channels", "n_units"):
            check_integer(name, getattr(self, name))
        check_reals(self)

    @property
    def max_accepted(self) -> int:
        """How many offloads the master may accept in one step (channels or units)."""
        return self.n_channels if self.mode == "H2" else self.n_units

    @property
    def bits_per_mb(self) -> float:
        return 8.0 * 1024.0 * 1024.0 if self.scaling == "updated" else 8.0 * 1024.0


@struct.dataclass
class World:
    """Per-device constants, drawn once per environment seed. Each field is (N,)."""

    power_dbm: chex.Array
    gain_db: chex.Array
    compute_ghz: chex.Array
    initial_energy_mj: chex.Array


@struct.dataclass
class EnvState:
    """The world plus the current battery (MJ) and task of each device, all (N,)."""

    world: World
    battery_mj: chex.Array
    size_mb: chex.Array
    cycles_per_bit: chex.Array
    deadline_s: chex.Array
    step: chex.Array  # int32 scalar: steps taken in this episode


def make_world(key: chex.PRNGKey, params: EnvParams) -> World:
    """Draws the devices' power, gain, compute and initial battery uniformly; with
    ``params.world == "reference"`` the reference's world instead (``key`` unused)."""
    if params.world == "reference":
        return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), reference_world(params.n_agents, params=params))
    k_power, k_energy, k_gain, k_compute = jax.random.split(key, 4)
    shape = (params.n_agents,)
    uniform = jax.random.uniform
    return World(
        power_dbm=uniform(k_power, shape, minval=params.min_power_dbm, maxval=params.max_power_dbm),
        gain_db=uniform(k_gain, shape, minval=params.min_gain_db, maxval=params.max_gain_db),
        compute_ghz=uniform(k_compute, shape, minval=params.min_compute_ghz, maxval=params.max_compute_ghz),
        initial_energy_mj=uniform(k_energy, shape, minval=params.min_energy_mj, maxval=params.max_energy_mj),
    )


def reference_world(n_agents: int, seed: int = REFERENCE_WORLD_SEED, params: EnvParams | None = None) -> World:
    """The world of the reference implementation, float64 NumPy arrays of shape (N,): NumPy's
    legacy generator seeded with ``seed`` draws, device after device, the transmit power
    (dBm), initial battery (MJ), channel gain (dB) and compute (GHz), each uniform in
    ``params``' range (default ``EnvParams()``, the reference's ranges)."""
    params = params or EnvParams()
    ranges = (
        (params.min_power_dbm, params.max_power_dbm),
        (params.min_energy_mj, params.max_energy_mj),
        (params.min_gain_db, params.max_gain_db),
        (params.min_compute_ghz, params.max_compute_ghz),
    )
    generator = np.random.RandomState(seed)
    unit = generator.random_sample((n_agents, len(ranges)))  # row n: device n's four draws
    low, high = np.array(ranges).T
    power, energy, gain, compute = (low + (high - low) * unit).T
    return World(power_dbm=power, gain_db=gain, compute_ghz=compute, initial_energy_mj=energy)


def _draw_tasks(key: chex.PRNGKey, params: EnvParams):
    """New (size MB, cycles per bit, deadline s) per device; deadlines in [min, 0.9·max)."""
    k_size, k_cycles, k_deadline = jax.random.split(key, 3)
    shape = (params.n_agents,)
    size = jax.random.uniform(k_size, shape, minval=params.min_size_mb, maxval=params.max_size_mb)
    cycles = jax.random.uniform(k_cycles, shape, minval=params.min_cycles_per_bit, maxval=params.max_cycles_per_bit)
    deadline = jax.random.uniform(k_deadline, shape, minval=params.min_deadline_s, maxval=0.9 * params.max_deadline_s)
    return size, cycles, deadline


def observation(state: EnvState) -> chex.Array:
    """(N, 7) float32 raw observation [power dBm, gain dB, battery MJ, size MB, cycles/bit,
    deadline s, compute GHz] — deliberately not normalised."""
    world = state.world
    return jnp.stack(
        [
            world.power_dbm,
            world.gain_db,
            state.battery_mj,
            state.size_mb,
            state.cycles_per_bit,
            state.deadline_s,
            world.compute_ghz,
        ],
        axis=-1,
    ).astype(jnp.float32)


def reset(key: chex.PRNGKey, world: World, params: EnvParams) -> tuple[chex.Array, EnvState]:
    """Starts an episode: full initial battery (clipped to its range), fresh tasks."""
    size, cycles, deadline = _draw_tasks(key, params)
    state = EnvState(
        world=world,
        battery_mj=jnp.clip(world.initial_energy_mj, params.min_energy_mj, params.max_energy_mj),
        size_mb=size,
        cycles_per_bit=cycles,
        deadline_s=deadline,
        step=jnp.zeros((), jnp.int32),
    )
    return observation(state), state


def state_from_arrays(power_dbm, gain_db, compute_ghz, battery, size_mb, cycles, deadline, step: int = 0) -> EnvState:
    """Builds a state from explicit (N,) arrays, e.g. to check one step against other code.

    The given battery also serves as the world's initial energy.
    """
    as_f32 = lambda x: jnp.asarray(x, jnp.float32)
    arrays = [as_f32(a) for a in (power_dbm, gain_db, compute_ghz, battery, size_mb, cycles, deadline)]
    chex.assert_rank(arrays, 1)
    chex.assert_equal_shape(arrays)
    power_dbm, gain_db, compute_ghz, battery, size_mb, cycles, deadline = arrays
    world = World(power_dbm=power_dbm, gain_db=gain_db, compute_ghz=compute_ghz, initial_energy_mj=battery)
    return EnvState(
        world=world,
        battery_mj=battery,
        size_mb=size_mb,
        cycles_per_bit=cycles,
        deadline_s=deadline,
        step=jnp.asarray(step, jnp.int32),
    )


def actor_output_to_fraction(actor_output: chex.Array) -> chex.Array:
    """Maps an actor output in [-1, 1] affinely onto a resource fraction in [0.01, 1]."""
    return (actor_output + 1.0) / 2.0 * (1.0 - MIN_FRACTION) + MIN_FRACTION


def to_env_action(selected: chex.Array, actor_actions: chex.Array) -> chex.Array:
    """(N,) 0/1 master decisions and (N, 3) actor outputs → (N, 3) action [x, alpha, rho]."""
    chex.assert_rank(selected, 1)
    chex.assert_shape(actor_actions, (selected.shape[0], ACTION_DIM))
    fractions = actor_output_to_fraction(actor_actions[:, 1:])
    return jnp.concatenate([selected[:, None].astype(fractions.dtype), fractions], axis=-1)


def h2_finish_times(offloaded: chex.Array, t_offload: chex.Array, t_process: chex.Array, n_units: int) -> chex.Array:
    """Finish times (s) of offloaded tasks on a server with ``n_units`` units; 0 elsewhere.

    Offloaded tasks are visited in ascending upload time with unit-free times U = 0. Each
    task i finishes at max(t_off_i, min U) + t_proc_i, which is then written into U at
    argmin U. Before a task beyond the first ``n_units`` is placed, the processing time
    of every offloaded task visited before it is added, one at a time, to U at argmin U
    (argmin re-evaluated after each addition, first index on ties): the reference's
    queue model, reproduced as it is. Cost grows with the number of offloaded tasks only.

    Args:
      offloaded: (N,) bool. t_offload, t_process: (N,) seconds.
    Returns:
      (N,) float finish times, 0 for tasks not offloaded.
    """
    chex.assert_rank([offloaded, t_offload, t_process], 1)
    chex.assert_equal_shape([offloaded, t_offload, t_process])
    n = offloaded.shape[0]
    # Offloaded tasks first, in ascending upload time (stable: first index on ties).
    order = jnp.argsort(jnp.where(offloaded, t_offload, jnp.inf), stable=True)
    t_off_sorted, t_proc_sorted = t_offload[order], t_process[order]
    n_offloaded = offloaded.sum()

    def add_to_least_busy(j, units):
        return units.at[jnp.argmin(units)].add(t_proc_sorted[j])

    def place(k, carry):
        units, finish = carry
        n_backlog = jnp.where(k >= n_units, k, 0)
        units = jax.lax.fori_loop(0, n_backlog, add_to_least_busy, units)
        task_finish = jnp.maximum(t_off_sorted[k], units.min()) + t_proc_sorted[k]
        return units.at[jnp.argmin(units)].set(task_finish), finish.at[k].set(task_finish)

    units = jnp.zeros((n_units,), t_offload.dtype)
    _, finish_sorted = jax.lax.fori_loop(0, n_offloaded, place, (units, jnp.zeros((n,), t_offload.dtype)))
    return jnp.zeros_like(finish_sorted).at[order].set(finish_sorted)


def episode_summary(step_infos: dict[str, chex.Array]) -> dict[str, chex.Array]:
    """Per-step infos, each (T,) → the episode's reward (their sum) and its violation rates
    "server_overflow", "energy_violation", "time_violation" (their means)."""
    return {
        "reward": jnp.sum(step_infos["reward"]),
        **{name: jnp.mean(step_infos[name]) for name in ("server_overflow", "energy_violation", "time_violation")},
    }


@struct.dataclass
class DeviceCosts:
    """What each device's task costs computed locally and offloaded, all (N,): times in s,
    energies in J. ``t_process`` is the server's processing time alone (no queue)."""

    t_local: chex.Array
    t_offload: chex.Array
    t_process: chex.Array
    e_local: chex.Array
    e_offload: chex.Array


def device_costs(state: EnvState, action: chex.Array, params: EnvParams) -> DeviceCosts:
    """The model's times and energies of the current tasks at the action's compute fraction
    alpha (``action[:, 1]``) and power fraction rho (``action[:, 2]``); the decision column
    is not read."""
    world = state.world
    compute_hz = world.compute_ghz * 1e9 * action[:, 1]
    power_w = 10.0 ** ((world.power_dbm - 30.0) / 10.0) * action[:, 2]
    snr = power_w * 10.0 ** (world.gain_db / 10.0)
    rate_bps = params.bandwidth_mhz * 1e6 * jnp.log1p(snr) / math.log(2.0) / params.n_channels
    bits = state.size_mb * params.bits_per_mb
    cycles = bits * state.cycles_per_bit
    t_offload = bits / rate_bps
    frequency_factor = compute_hz**2 if params.scaling == "updated" else compute_hz
    return DeviceCosts(
        t_local=cycles / compute_hz,
        t_offload=t_offload,
        t_process=cycles / (params.server_compute_ghz * 1e9),
        e_local=params.k_energy_local * cycles * frequency_factor,
        e_offload=power_w * t_offload,
    )


def step(key: chex.PRNGKey, state: EnvState, action: chex.Array, params: EnvParams):
    """Advances one step.

    Args:
      key: draws the next tasks.
      state: current state.
      action: (N, 3) [x ∈ {0, 1} offload decision after the master's selection,
        alpha ∈ [0.01, 1] compute fraction, rho ∈ [0.01, 1] power fraction].
      params: static parameters.
    Returns:
      obs (N, 7) of the next tasks, next_state, reward (float32 scalar, the one reward all
      agents share), done (bool scalar: step counter reached ``steps_per_episode``), info dict with
      "energy_violation" and "time_violation": fractions of agents penalised this step.
    """
    chex.assert_shape(action, (params.n_agents, ACTION_DIM))
    world = state.world
    offload = action[:, 0]
    costs = device_costs(state, action, params)
    if params.mode == "H2":
        t_remote = h2_finish_times(offload == 1, costs.t_offload, costs.t_process, params.n_units)
    else:
        t_remote = costs.t_offload + costs.t_process
    time = (1.0 - offload) * costs.t_local + offload * t_remote
    time = jnp.minimum(time, params.max_deadline_s) / params.max_deadline_s
    energy = (1.0 - offload) * costs.e_local + offload * costs.e_offload

    battery = jnp.clip(state.battery_mj - energy * 1e-6 + params.harvest_j * 1e-6, 0.0, params.max_energy_mj)
    time = jnp.where(battery <= 0.0, 1.0, time)
    time_penalty = jnp.maximum(time - state.deadline_s / params.max_deadline_s, 0.0)
    energy_penalty = jnp.maximum(params.min_energy_mj - battery, 0.0) * 1e6
    cost = params.lambda_energy * (energy + energy_penalty) + params.lambda_time * (time + time_penalty)
    reward = -jnp.sum(cost)

    size, cycles_next, deadline = _draw_tasks(key, params)
    next_state = EnvState(
        world=world,
        battery_mj=battery,
        size_mb=size,
        cycles_per_bit=cycles_next,
        deadline_s=deadline,
        step=state.step + 1,
    )
    info = {
        "energy_violation": jnp.mean(energy_penalty > 0.0),
        "time_violation": jnp.mean(time_penalty > 0.0),
    }
    done = next_state.step >= params.steps_per_episode
    return observation(next_state), next_state, reward.astype(jnp.float32), done, info
