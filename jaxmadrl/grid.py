"""Many configurations as one compiled program, and their checkpoints.

A *lane* is one (seed, variant, actor LR, critic LR) configuration; a *variant* is a named
set of traced mitigation settings (e.g. LayerNorm on, softsign output). All lanes share the
static ``TrainConfig``; their hyperparameters are arrays with a leading lane axis G. Within
one seed every lane starts from the same weights, world and exploration key (the paper's
controlled design, extended to the variants); seeds differ through ``fold_in``.
``jax.vmap`` over lanes sits inside the scan over episodes, so the episode counter stays
unbatched and its ``cond``s remain real branches. One compiled chunk program serves every
lane: called on all lanes at once (sharded over devices; no collectives are needed) or on
blocks of lanes, several blocks at once on host threads — the faster way on the CPU.
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxmadrl import files, numerics
from jaxmadrl.config import HyperParams, TrainConfig
from jaxmadrl.env import EnvParams
from jaxmadrl.limits import SettingError, check_integer, check_widths, is_number
from jaxmadrl.networks import ACTIVATION_NAMES, activation_code
from jaxmadrl.training import make_trainer, scan_episodes, seed_key

SWEEPS_DIR = pathlib.Path(__file__).resolve().parent.parent / "sweeps"


SETTING_NAMES = tuple(f.name for f in dataclasses.fields(HyperParams) if f.name not in ("actor_lr", "critic_lr"))
DEFAULT_VARIANT = "default"
VARIANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def normalised_settings(settings, where: str) -> dict:
    """Traced ``HyperParams`` settings by field name; an output activation may be given by
    name ("softsign") and is stored as its code. ValueError names ``where`` on bad input."""
    if not isinstance(settings, dict):
        raise SettingError(where, f"must be an object of settings, got {settings!r}")
    unknown = sorted(set(settings) - set(SETTING_NAMES))
    if unknown:
        raise ValueError(f"{where}: unknown settings {unknown}; known: {sorted(SETTING_NAMES)}")
    settings = dict(settings)
    if isinstance(settings.get("output_activation"), str):
        settings["output_activation"] = activation_code(settings["output_activation"])
    return settings


class Lane(NamedTuple):
    seed: int
    variant: str
    actor_lr: float
    critic_lr: float


_TRAIN = TrainConfig()  # the defaults of the settings a definition passes on to the program


@dataclasses.dataclass(frozen=True)
class SweepDefinition:
    """What a sweep computes: the lanes (seeds × variants × actor LRs × critic LRs, in that
    order; seeds ``first_seed`` … ``first_seed + seeds - 1``) and the settings they share,
    defaulting to ``TrainConfig``'s. ``chunk`` = episodes per compiled call.

    ``mitigations`` sets traced ``HyperParams`` fields (e.g. {"layer_norm": 1}) for every
    lane; ``variants`` maps a variant name to settings of its own, applied on top (e.g.
    {"baseline": {}, "layernorm": {"layer_norm": 1}}). Without variants there is one,
    named "default". Every variant is part of the same compiled program.
    """

    name: str
    actor_lrs: tuple[float, ...]
    critic_lrs: tuple[float, ...]
    seeds: int = 1
    first_seed: int = 0
    episodes: int = _TRAIN.episodes
    steps_per_episode: int = _TRAIN.env.steps_per_episode
    n_agents: int = _TRAIN.env.n_agents
    mode: str = _TRAIN.env.mode
    scaling: str = _TRAIN.env.scaling
    actor_update: str = _TRAIN.actor_update
    actor_hidden: tuple[int, ...] = _TRAIN.actor_hidden
    critic_hidden: tuple[int, ...] = _TRAIN.critic_hidden
    batch_size: int = _TRAIN.batch_size
    replay_capacity: int = _TRAIN.replay_capacity
    eval_every: int = _TRAIN.eval_every
    mitigations: dict = dataclasses.field(default_factory=dict)
    variants: dict = dataclasses.field(default_factory=dict)
    chunk: int = 100

    def __post_init__(self):
        for name in ("actor_lrs", "critic_lrs"):
            values = getattr(self, name)
            if not isinstance(values, (list, tuple)) or not values or not all(is_number(v) for v in values):
                raise SettingError(name, f"must be a non-empty list of numbers, got {values!r}")
            object.__setattr__(self, name, tuple(float(v) for v in values))
        for name in ("actor_hidden", "critic_hidden"):
            object.__setattr__(self, name, tuple(int(w) for w in check_widths(name, getattr(self, name))))
        for name in ("seeds", "episodes", "steps_per_episode", "n_agents", "chunk", "batch_size", "replay_capacity",
                     "eval_every"):
            object.__setattr__(self, name, check_integer(name, getattr(self, name)))
        object.__setattr__(self, "first_seed", check_integer("first_seed", self.first_seed, minimum=0))
        if self.first_seed + self.seeds > 2**32:
            raise SettingError("first_seed", f"+ seeds must be at most 2**32 (seeds are uint32), got "
                                             f"{self.first_seed} + {self.seeds}")
        for name in ("name", "mode", "scaling", "actor_update"):
            if not isinstance(getattr(self, name), str):
                raise SettingError(name, f"must be a string, got {getattr(self, name)!r}")
        object.__setattr__(self, "mitigations", normalised_settings(self.mitigations, "mitigations"))
        if not isinstance(self.variants, dict):
            raise SettingError("variants", f"must be an object mapping names to settings, got {self.variants!r}")
        for variant in self.variants:
            if not isinstance(variant, str) or not VARIANT_NAME.fullmatch(variant):
                raise SettingError("variants", f"names must be letters, digits, '.', '_' or '-' (a directory name), "
                                               f"got {variant!r}")
        variants = {variant: normalised_settings(settings, f"variant {variant!r}")
                    for variant, settings in self.variants.items()}
        object.__setattr__(self, "variants", variants or {DEFAULT_VARIANT: {}})
        try:
            HyperParams(actor_lr=np.asarray(self.actor_lrs), critic_lr=np.asarray(self.critic_lrs),
                        **self.mitigations).validate()
        except SettingError as error:
            setting = {"actor_lr": "actor_lrs", "critic_lr": "critic_lrs"}.get(error.setting,
                                                                             f"mitigations.{error.setting}")
            raise SettingError(setting, error.problem) from None
        for variant in self.variants:
            try:
                self.variant_hyperparams(variant).validate()
            except SettingError as error:
                raise SettingError(f"variants.{variant}.{error.setting}", error.problem) from None
        self.train_config()  # validates the static settings

    def train_config(self, matmul_precision: str = numerics.DEFAULT_MATMUL_PRECISION) -> TrainConfig:
        """The static program of every lane; ``matmul_precision`` is how it runs, not what it
        computes, so it is chosen per run rather than in the definition."""
        env = EnvParams(n_agents=self.n_agents, steps_per_episode=self.steps_per_episode, mode=self.mode,
                        scaling=self.scaling)
        return TrainConfig(env=env, episodes=self.episodes, actor_update=self.actor_update,
                           actor_hidden=self.actor_hidden, critic_hidden=self.critic_hidden,
                           batch_size=self.batch_size, replay_capacity=self.replay_capacity,
                           eval_every=self.eval_every, matmul_precision=matmul_precision)

    def activations(self) -> list[str]:
        """The names of the output activations its lanes use."""
        codes = sorted(set(np.ravel(self.hyperparams().output_activation).tolist()))
        return [ACTIVATION_NAMES[code] for code in codes]

    def lanes(self) -> list[Lane]:
        """Every lane, in lane order (seed-major, then variant, actor LR, critic LR)."""
        return [Lane(seed, variant, a, c) for seed in range(self.first_seed, self.first_seed + self.seeds)
                for variant in self.variants for a in self.actor_lrs for c in self.critic_lrs]

    def variant_hyperparams(self, variant: str) -> HyperParams:
        """The scalar settings of one variant (learning rates left at 1)."""
        return HyperParams(actor_lr=1.0, critic_lr=1.0, **{**self.mitigations, **self.variants[variant]})

    def hyperparams(self) -> HyperParams:
        """Every field with a leading lane axis (G,) (float32; the activation code int32)."""
        per_lane = [self.variant_hyperparams(lane.variant).replace(actor_lr=lane.actor_lr, critic_lr=lane.critic_lr)
                    .as_arrays() for lane in self.lanes()]
        return jax.tree.map(lambda *values: np.stack(values), *per_lane)

    def lane_keys(self) -> chex.PRNGKey:
        return jax.vmap(seed_key)(jnp.asarray([lane.seed for lane in self.lanes()], jnp.uint32))

    @classmethod
    def from_dict(cls, values: dict) -> "SweepDefinition":
        """Builds a definition; a malformed field is a ``SettingError`` naming it."""
        if not isinstance(values, dict):
            raise ValueError("a sweep definition must be a JSON object")
        fields = dataclasses.fields(cls)
        unknown = set(values) - {f.name for f in fields}
        if unknown:
            raise ValueError(f"unknown sweep fields: {sorted(unknown)}")
        for field in fields:
            required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
            if required and field.name not in values:
                raise SettingError(field.name, "is required")
        return cls(**values)


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
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not readable JSON: {error}") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path} must hold a JSON object")
    try:
        return SweepDefinition.from_dict({"name": path.stem, **values})
    except SettingError as error:
        raise ValueError(f'{path}: "{error.setting}" {error.problem}') from None


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


# ----------------------------------------------------------------------------- lane blocks
# The compiled chunk program is vmapped over a lane axis of any width. A run calls it on
# consecutive blocks of ``lanes_per_call`` lanes, several blocks at once on host threads.
# On XLA:CPU one lane per call, one call per core at a time, is ~1.5× faster than one call over
# every lane (batched matrix products run slower than single ones, and a single lane's
# operations cannot keep two cores busy alone; benchmarks/RESULTS.md). Elsewhere one call
# over every lane, sharded over the devices, is the default.

def default_lanes_per_call(n_lanes: int) -> int:
    return 1 if jax.default_backend() == "cpu" else n_lanes


def default_workers(n_blocks: int) -> int:
    """One worker thread per CPU this process may use, at most one per block."""
    return max(1, min(n_blocks, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else os.cpu_count() or 1))


def check_lanes_per_call(n_lanes: int, lanes_per_call: int) -> None:
    if not 1 <= lanes_per_call <= n_lanes or n_lanes % lanes_per_call:
        divisors = [d for d in range(1, n_lanes + 1) if n_lanes % d == 0]
        raise ValueError(f"lanes per call must divide the {n_lanes} lanes ({divisors}), got {lanes_per_call}")


def split_lanes(tree, lanes_per_call: int) -> list:
    """A tree with leading lane axis G → G / lanes_per_call trees of consecutive lanes."""
    n_lanes = jax.tree.leaves(tree)[0].shape[0]
    check_lanes_per_call(n_lanes, lanes_per_call)
    return [jax.tree.map(lambda x: x[start:start + lanes_per_call], tree)
            for start in range(0, n_lanes, lanes_per_call)]


def join_lanes(blocks: list, axis: int = 0):
    """The inverse of ``split_lanes`` on host: NumPy leaves (keys stay keys), the blocks'
    lane axes (at ``axis``) concatenated."""
    def join(*leaves):
        if _is_key(leaves[0]):
            return jax.random.wrap_key_data(np.concatenate([jax.random.key_data(x) for x in leaves], axis))
        return np.concatenate([np.asarray(x) for x in leaves], axis)
    return jax.tree.map(join, *blocks)


def run_blocks(pool: ThreadPoolExecutor, compiled_chunk, states: list, episodes, hparams: list,
               after_call: Callable | None = None):
    """One chunk for every block of lanes, the blocks on ``pool``'s threads; each block's
    state is donated. ``after_call(block index, new state)`` runs on the same thread once
    the block's call is done (e.g. to checkpoint it while other blocks compute).
    Returns (new block states, metrics (T, G, ...) on host)."""
    def run_one(block):
        state, metrics = compiled_chunk(states[block], episodes, hparams[block])
        metrics = jax.device_get(metrics)
        if after_call is not None:
            after_call(block, state)
        return state, metrics

    outcomes = list(pool.map(run_one, range(len(states))))
    return [state for state, _ in outcomes], join_lanes([metrics for _, metrics in outcomes], axis=1)


def _is_key(leaf) -> bool:
    return jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key)


# ----------------------------------------------------------------------------- checkpoints
# A checkpoint is a directory: one file per block of lanes per episode count, written as
# soon as the block's chunk is done, and an index naming the complete set. The index is
# replaced only when every block of a chunk is written, and the files it no longer names
# are removed after it. Restoring joins the blocks, so a run may resume with other blocks.

CHECKPOINT_INDEX = "checkpoint.json"


def block_file_name(first_lane: int, episodes_done: int) -> str:
    return f"lanes{first_lane:05d}-episode{episodes_done:06d}.npz"


def save_block(directory: pathlib.Path, first_lane: int, state, episodes_done: int) -> None:
    """Writes one block's state (keys as raw data) atomically."""
    leaves = jax.tree.leaves(jax.device_get(jax.tree.map(
        lambda x: jax.random.key_data(x) if _is_key(x) else x, state)))
    arrays = {f"leaf_{i:04d}": np.asarray(leaf) for i, leaf in enumerate(leaves)}
    files.write_atomically(directory / block_file_name(first_lane, episodes_done),
                           lambda file: np.savez(file, **arrays))


def commit_checkpoint(directory: pathlib.Path, first_lanes: list[int], episodes_done: int) -> None:
    """Makes the saved blocks starting at ``first_lanes`` the checkpoint, then removes every
    other file in ``directory``."""
    names = [block_file_name(first, episodes_done) for first in first_lanes]
    index = {"episodes_done": episodes_done, "blocks": names}
    files.write_atomically(directory / CHECKPOINT_INDEX, lambda f: f.write(files.json_text(index).encode()))
    for stale in set(p.name for p in directory.iterdir()) - set(names) - {CHECKPOINT_INDEX}:
        (directory / stale).unlink()


def state_bytes(states: list) -> int:
    """Bytes of lane-block states as a checkpoint stores them (keys as raw data)."""
    return sum(int(np.prod(leaf.shape)) * leaf.dtype.itemsize for leaf in jax.tree.leaves(jax.tree.map(
        lambda x: jax.random.key_data(x) if _is_key(x) else x, states)))


def load_checkpoint(directory: pathlib.Path, template):
    """Restores a state with the structure, shapes and dtypes of ``template`` (leading lane
    axis; e.g. from ``jax.eval_shape``). Returns (state as NumPy/key arrays, episodes done).
    ValueError, naming the file, if the checkpoint is missing, damaged or does not fit."""
    index_path = directory / CHECKPOINT_INDEX
    try:
        index = json.loads(index_path.read_text())
        names, episodes_done = list(index["blocks"]), int(index["episodes_done"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{index_path} is not a checkpoint index: {error}") from None
    if any(not isinstance(name, str) or pathlib.Path(name).name != name for name in names):
        raise ValueError(f"{index_path} names files outside its directory")
    template_leaves, treedef = jax.tree.flatten(template)
    blocks = []
    for name in names:
        try:
            with np.load(directory / name, allow_pickle=False) as saved:
                if len(saved.files) != len(template_leaves):
                    raise ValueError(f"it holds {len(saved.files)} arrays, this sweep needs {len(template_leaves)}")
                blocks.append([saved[f"leaf_{i:04d}"] for i in range(len(template_leaves))])
        except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as error:
            raise ValueError(f"{directory / name} is damaged or not this sweep's: {error}") from None
    leaves = []
    for i, like in enumerate(template_leaves):
        array = np.concatenate([block[i] for block in blocks])
        restored = jax.random.wrap_key_data(array) if _is_key(like) else array
        if restored.shape != like.shape or restored.dtype != like.dtype:
            raise ValueError(f"{directory}: array {i} is {restored.dtype}{restored.shape}, "
                             f"this sweep needs {like.dtype}{like.shape}")
        leaves.append(restored)
    return jax.tree.unflatten(treedef, leaves), episodes_done
