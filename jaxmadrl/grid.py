"""Many configurations as one compiled program, and their checkpoints.

A *lane* is one (seed, actor LR, critic LR) configuration. All lanes share the static
``TrainConfig``; their hyperparameters are arrays with a leading lane axis G. Within one
seed every lane starts from the same weights, world and exploration key (the paper's
controlled design); seeds differ through ``fold_in``. ``jax.vmap`` over lanes sits inside
the scan over episodes, so the episode counter stays unbatched and its ``cond``s remain
real branches. The lane axis is sharded over devices (no collectives are needed).
"""
from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxmadrl import files
from jaxmadrl.config import HyperParams, TrainConfig
from jaxmadrl.env import EnvParams
from jaxmadrl.training import make_trainer, scan_episodes, seed_key

SWEEPS_DIR = pathlib.Path(__file__).resolve().parent.parent / "sweeps"


@dataclasses.dataclass(frozen=True)
class SweepDefinition:
    """What a sweep computes: the lanes (seeds × actor LRs × critic LRs, seed-major) and
    the settings they share. ``chunk`` = episodes per compiled call. ``mitigations``
    overrides traced ``HyperParams`` fields (e.g. {"layer_norm": 1}) for every lane."""

    name: str
    actor_lrs: tuple[float, ...]
    critic_lrs: tuple[float, ...]
    seeds: int = 1
    episodes: int = 2000
    steps_per_episode: int = 10
    n_agents: int = 50
    mode: str = "H2"
    scaling: str = "updated"
    actor_update: str = "simultaneous"
    actor_hidden: tuple[int, ...] = (64, 32)
    critic_hidden: tuple[int, ...] = (512, 128)
    mitigations: dict = dataclasses.field(default_factory=dict)
    chunk: int = 100

    def __post_init__(self):
        object.__setattr__(self, "actor_lrs", tuple(float(v) for v in self.actor_lrs))
        object.__setattr__(self, "critic_lrs", tuple(float(v) for v in self.critic_lrs))
        object.__setattr__(self, "actor_hidden", tuple(self.actor_hidden))
        object.__setattr__(self, "critic_hidden", tuple(self.critic_hidden))
        allowed = {f.name for f in dataclasses.fields(HyperParams)} - {"actor_lr", "critic_lr"}
        if set(self.mitigations) - allowed:
            raise ValueError(f"unknown mitigation settings {sorted(set(self.mitigations) - allowed)}; "
                             f"known: {sorted(allowed)}")
        if not self.actor_lrs or not self.critic_lrs:
            raise ValueError("a sweep needs at least one actor LR and one critic LR")
        for name in ("seeds", "chunk"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {getattr(self, name)!r}")
        self.hyperparams().validate()
        self.train_config()  # validates the static settings

    def train_config(self) -> TrainConfig:
        env = EnvParams(n_agents=self.n_agents, max_steps=self.steps_per_episode, mode=self.mode,
                        scaling=self.scaling)
        return TrainConfig(env=env, episodes=self.episodes, actor_update=self.actor_update,
                           actor_hidden=self.actor_hidden, critic_hidden=self.critic_hidden)

    def lanes(self) -> list[tuple[int, float, float]]:
        """(seed, actor LR, critic LR) of every lane, in lane order."""
        return [(seed, a, c) for seed in range(self.seeds) for a in self.actor_lrs for c in self.critic_lrs]

    def hyperparams(self) -> HyperParams:
        """Every field with a leading lane axis (G,) (float32; the activation code int32)."""
        _, actor_lrs, critic_lrs = zip(*self.lanes())
        shared = HyperParams(actor_lr=1.0, critic_lr=1.0, **self.mitigations).validate().as_arrays()
        lanes = jax.tree.map(lambda v: np.full(len(actor_lrs), v, v.dtype), shared)
        return lanes.replace(actor_lr=np.asarray(actor_lrs, np.float32),
                             critic_lr=np.asarray(critic_lrs, np.float32))

    def lane_keys(self) -> chex.PRNGKey:
        return jax.vmap(seed_key)(jnp.asarray([seed for seed, _, _ in self.lanes()], jnp.uint32))

    @classmethod
    def from_dict(cls, values: dict) -> "SweepDefinition":
        """Builds a definition; any malformed field is a ValueError."""
        if not isinstance(values, dict) or not isinstance(values.get("mitigations", {}), dict):
            raise ValueError("a sweep definition is a JSON object whose 'mitigations' is an object")
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown sweep fields: {sorted(unknown)}")
        try:
            return cls(**values)
        except TypeError as error:  # e.g. a number where a list belongs
            raise ValueError(f"malformed sweep definition: {error}") from None


def load_definition(name_or_path: str) -> SweepDefinition:
    """A sweep definition from a JSON file, given as a path or as a name in ``sweeps/``."""
    path = pathlib.Path(name_or_path)
    if not path.is_file():
        path = SWEEPS_DIR / f"{name_or_path}.json"
    if not path.is_file():
        known = sorted(p.stem for p in SWEEPS_DIR.glob("*.json"))
        raise ValueError(f"no sweep definition {name_or_path!r} (named sweeps: {', '.join(known)})")
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path} must hold a JSON object")
    return SweepDefinition.from_dict({"name": path.stem, **values})


class Grid(NamedTuple):
    init: Callable  # (lane keys (G,), hparams (G,)) → lane-batched TrainState
    run_chunk: Callable  # (states, episodes (T,), hparams) → (states, metrics (T, G, ...))


def make_grid(config: TrainConfig) -> Grid:
    trainer = make_trainer(config)
    run_lanes = jax.vmap(trainer.run_episode, in_axes=(0, None, 0))

    def run_chunk(states, episodes, hparams):
        return scan_episodes(run_lanes, states, episodes, hparams, config.episodes)

    return Grid(init=jax.vmap(trainer.init), run_chunk=run_chunk)


def lane_sharding(n_lanes: int, max_devices: int | None = None) -> NamedSharding:
    """Shards a leading lane axis over as many devices as divide ``n_lanes`` evenly."""
    devices = jax.devices()[: max_devices or None]
    n_devices = max(d for d in range(1, len(devices) + 1) if n_lanes % d == 0)
    mesh = Mesh(np.asarray(devices[:n_devices]), ("grid",))
    return NamedSharding(mesh, PartitionSpec("grid"))


def _is_key(leaf) -> bool:
    return jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def save_checkpoint(path: pathlib.Path, state, episodes_done: int) -> None:
    """Writes every leaf of ``state`` (keys as raw data) and the episode count, atomically."""
    leaves = jax.tree.leaves(jax.device_get(jax.tree.map(
        lambda x: jax.random.key_data(x) if _is_key(x) else x, state)))
    arrays = {f"leaf_{i:04d}": np.asarray(leaf) for i, leaf in enumerate(leaves)}
    files.write_atomically(path, lambda file: np.savez(file, episodes_done=episodes_done, **arrays))


def load_checkpoint(path: pathlib.Path, template):
    """Restores a state with the structure, shapes and dtypes of ``template`` (e.g. from
    ``jax.eval_shape``). Returns (state as numpy/key arrays, episodes done)."""
    with np.load(path) as saved:
        template_leaves, treedef = jax.tree.flatten(template)
        if len(saved.files) != len(template_leaves) + 1:
            raise ValueError(f"{path} holds {len(saved.files) - 1} arrays, this sweep needs {len(template_leaves)}")
        leaves = []
        for i, like in enumerate(template_leaves):
            array = saved[f"leaf_{i:04d}"]
            restored = jax.random.wrap_key_data(array) if _is_key(like) else array
            if restored.shape != like.shape or restored.dtype != like.dtype:
                raise ValueError(f"{path}: array {i} is {restored.dtype}{restored.shape}, "
                                 f"this sweep needs {like.dtype}{like.shape}")
            leaves.append(restored)
        return jax.tree.unflatten(treedef, leaves), int(saved["episodes_done"])
