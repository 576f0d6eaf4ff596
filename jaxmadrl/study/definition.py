"""What a sweep computes: its lanes and the training program they share.

A *lane* is one (seed, variant, actor LR, critic LR) configuration; a *variant* is a named
set of traced settings (e.g. LayerNorm on, softsign output) and, outside MEC, of network
sizes (``actor_hidden``, ``critic_hidden``: the networks are built at the largest widths and
each lane keeps the units of its own alive, ``networks.with_active_units``). All lanes
share one static ``TrainConfig``; their hyperparameters are arrays with a leading lane axis G. Within one
seed every lane starts from the same weights, world and exploration key (the paper's
controlled design, extended to the variants); seeds differ through ``fold_in``.

As a dictionary (a sweep file, ``sweep.json``) a definition is flat: its own fields, every
static setting by name (``settings.STATIC``) and the traced ones under ``mitigations`` and
``variants``; a key left out takes its default.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
import re
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.core import numerics, paths
from jaxmadrl.core.activations import ACTIVATION_NAMES, activation_code
from jaxmadrl.core.keys import seed_key
from jaxmadrl.core.limits import SettingError, check_integer, check_widths, decoded_real, encoded_real, is_number
from jaxmadrl.study import settings

DEFAULT_VARIANT = "default"
PAPER_LRS = (1e-4, 1e-3, 1e-2, 1e-1)  # the paper's actor and critic learning rates (its 4×4 grid)
VARIANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # a sweep's and a variant's name: a folder name
SIZES = {"actor_hidden": "actor_units", "critic_hidden": "critic_units"}  # a variant's sizes → their unit counts


def normalised_traced_settings(values, where: str, sizes: bool = False) -> dict:
    """Traced settings by name (``settings.TRACED``; with ``sizes``, a variant's, also
    ``SIZES`` as lists of widths); an output activation may be given by name ("softsign")
    and is stored as its code. SettingError naming ``where`` on bad input."""
    if not isinstance(values, dict):
        raise SettingError(where, f"must be an object of settings, got {values!r}")
    known = {*settings.TRACED, *(SIZES if sizes else ())}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SettingError(where, f"unknown settings {unknown}; known: {sorted(known)}")
    values = dict(values)
    for name in SIZES.keys() & values.keys():
        values[name] = [int(width) for width in check_widths(f"{where}.{name}", values[name])]
    if isinstance(values.get("output_activation"), str):
        try:
            values["output_activation"] = activation_code(values["output_activation"])
        except ValueError as error:
            raise SettingError(f"{where}.output_activation", str(error)) from None
    return values


def _repeated_in_float32(values: tuple[float, ...]) -> float | None:
    """The first value that equals an earlier one once both are float32, or None."""
    seen = set()
    with np.errstate(over="ignore"):  # an overflowing value is refused by its range
        for value in values:
            if float(np.float32(value)) in seen:
                return value
            seen.add(float(np.float32(value)))
    return None


class Lane(NamedTuple):
    seed: int
    variant: str
    actor_lr: float
    critic_lr: float


@dataclasses.dataclass(frozen=True)
class SweepDefinition:
    """The lanes (seeds × variants × actor LRs × critic LRs, in that order; seeds
    ``first_seed`` … ``first_seed + seeds - 1``) and the program they share (``train``,
    whose matmul precision is chosen per run, not here). ``chunk`` = episodes per compiled
    call.

    ``mitigations`` sets traced settings (e.g. {"layer_norm": 1}) for every lane;
    ``variants`` maps a variant name to settings of its own, applied on top (e.g.
    {"baseline": {}, "layernorm": {"layer_norm": 1}}). Without variants there is one,
    named "default". Every variant is part of the same compiled program.
    """

    name: str
    actor_lrs: tuple[float, ...]
    critic_lrs: tuple[float, ...]
    seeds: int = 1
    first_seed: int = 0
    train: TrainConfig = TrainConfig()
    mitigations: dict = dataclasses.field(default_factory=dict)
    variants: dict = dataclasses.field(default_factory=dict)
    chunk: int = 100

    def __post_init__(self):
        """Checks every field (SettingError naming it) and normalises the lists and settings."""
        self._check_lanes()
        if not isinstance(self.name, str) or not VARIANT_NAME.fullmatch(self.name) or len(self.name) > 200:
            raise SettingError(
                "name",
                "must be at most 200 letters, digits, '.', '_' or '-', starting with a letter or digit (it "
                f"names the run's folder), got {self.name!r}",
            )
        if not isinstance(self.train, TrainConfig):
            raise SettingError("train", f"must be a TrainConfig, got {self.train!r}")
        if self.train.matmul_precision != numerics.DEFAULT_MATMUL_PRECISION:
            raise SettingError(
                "train.matmul_precision", "is chosen per run (run_sweep's matmul_precision), not in the definition"
            )
        self._check_traced_settings()

    def _check_lanes(self) -> None:
        """The learning-rate lists, seeds and chunk."""
        for name in ("actor_lrs", "critic_lrs"):
            values = getattr(self, name)
            if not isinstance(values, (list, tuple)) or not values or not all(is_number(v) for v in values):
                raise SettingError(name, f"must be a non-empty list of numbers, got {values!r}")
            object.__setattr__(self, name, tuple(float(v) for v in values))
            repeated = _repeated_in_float32(getattr(self, name))
            if repeated is not None:
                raise SettingError(
                    name, f"lists {repeated!r} twice (equal as float32): each value is one configuration"
                )
        for name in ("seeds", "chunk"):
            object.__setattr__(self, name, check_integer(name, getattr(self, name)))
        object.__setattr__(self, "first_seed", check_integer("first_seed", self.first_seed, minimum=0))
        if self.first_seed + self.seeds > 2**32:
            raise SettingError(
                "first_seed", f"+ seeds must be at most 2**32 (seeds are uint32), got {self.first_seed} + {self.seeds}"
            )

    def _check_traced_settings(self) -> None:
        """``mitigations`` and ``variants``: names, values (with the learning rates) and domain."""
        object.__setattr__(self, "mitigations", normalised_traced_settings(self.mitigations, "mitigations"))
        if not isinstance(self.variants, dict):
            raise SettingError("variants", f"must be an object mapping names to settings, got {self.variants!r}")
        for variant in self.variants:
            if not isinstance(variant, str) or not VARIANT_NAME.fullmatch(variant):
                raise SettingError(
                    "variants", f"names must be letters, digits, '.', '_' or '-' (a directory name), got {variant!r}"
                )
        variants = {
            variant: normalised_traced_settings(values, f"variants.{variant}", sizes=True)
            for variant, values in self.variants.items()
        }
        object.__setattr__(self, "variants", variants or {DEFAULT_VARIANT: {}})
        try:
            HyperParams(
                actor_lr=np.asarray(self.actor_lrs), critic_lr=np.asarray(self.critic_lrs), **self.mitigations
            ).validate()
        except SettingError as error:
            setting = {"actor_lr": "actor_lrs", "critic_lr": "critic_lrs"}.get(
                error.setting, f"mitigations.{error.setting}"
            )
            raise SettingError(setting, error.problem) from None
        self._check_sizes()
        for variant in self.variants:
            try:
                hparams = self.variant_hyperparams(variant).validate()
            except SettingError as error:
                raise SettingError(f"variants.{variant}.{error.setting}", error.problem) from None
            if self.sized and hparams.linear_hidden:  # without the ReLU a masked unit would learn
                raise SettingError(f"variants.{variant}.linear_hidden", "cannot be combined with sizes per variant")
            self._check_learner_settings(variant)
            self._check_stochastic_actors(variant, hparams)

    def _check_sizes(self) -> None:
        """Variants that set network sizes: a learner that takes them, one depth per network."""
        for variant, values in self.variants.items():
            for name in SIZES.keys() & values.keys():
                where = f"variants.{variant}.{name}"
                if self.train.learner_name == "ccm":
                    raise SettingError(
                        where, "sizes per variant are taken outside MEC (ddpg, td3, sac, ppo), not by ccm"
                    )
                if len(values[name]) != len(getattr(self.train, name)):
                    raise SettingError(
                        where,
                        f"must have as many layers as {name} ({list(getattr(self.train, name))}) and every variant",
                    )
        if self.sized and np.any(np.asarray(self.mitigations.get("linear_hidden", 0))):
            raise SettingError(
                "mitigations.linear_hidden", "cannot be combined with sizes per variant: a masked unit would learn"
            )

    def _check_stochastic_actors(self, variant: str, hparams: HyperParams) -> None:
        """CCM-MADRL's entropy bonus needs stochastic actors, and they squash by tanh alone."""
        if self.train.learner_name != "ccm":
            return
        if not self.train.stochastic_actors and hparams.entropy_coef:
            raise SettingError(f"variants.{variant}.entropy_coef", "applies to CCM-MADRL with stochastic_actors")
        for name in ("output_activation", "layer_norm") if self.train.stochastic_actors else ():
            if getattr(hparams, name):
                raise SettingError(
                    f"variants.{variant}.{name}", "applies to deterministic actors (stochastic_actors off)"
                )

    def _check_learner_settings(self, variant: str) -> None:
        """A traced setting that only some learners implement keeps its default in the others."""
        learner, hparams = self.train.learner_name, self.variant_hyperparams(variant)
        for field in dataclasses.fields(HyperParams):
            implemented_by = field.metadata["learners"]
            if field.name in settings.UNIT_COUNTS:
                continue  # sizes: checked by _check_sizes
            if implemented_by and learner not in implemented_by and getattr(hparams, field.name) != field.default:
                raise SettingError(
                    f"variants.{variant}.{field.name}",
                    f"is not implemented by learner {learner!r} (domain {self.train.domain!r}), only by "
                    f"{', '.join(implemented_by)}",
                )

    @property
    def episodes(self) -> int:
        return self.train.episodes

    @property
    def sized(self) -> bool:
        """Whether its variants set network sizes (then its program masks each lane's units)."""
        return any(SIZES.keys() & values.keys() for values in self.variants.values())

    def sizes(self, variant: str) -> dict[str, tuple[int, ...]]:
        """The hidden widths of a variant's actor and critic ("actor_hidden", "critic_hidden")."""
        return {name: tuple(self.variants[variant].get(name, getattr(self.train, name))) for name in SIZES}

    def train_config(self, matmul_precision: str = numerics.DEFAULT_MATMUL_PRECISION) -> TrainConfig:
        """The static program of every lane, run at ``matmul_precision``, with the hidden
        LayerNorms only if a lane uses full normalisation; where variants set sizes, the
        networks at the largest width of each layer, masked per lane."""
        uses_hidden_norms = bool(np.any(self.hyperparams().full_normalisation))
        config = dataclasses.replace(
            self.train, matmul_precision=matmul_precision, hidden_norm_layers=uses_hidden_norms
        )
        if not self.sized:
            return config
        widest = {name: tuple(np.max([self.sizes(v)[name] for v in self.variants], axis=0).tolist()) for name in SIZES}
        return dataclasses.replace(config, masked_sizes=True, **widest)

    def activations(self) -> list[str]:
        """The names of the output activations its lanes use."""
        codes = sorted(set(np.ravel(self.hyperparams().output_activation).tolist()))
        return [ACTIVATION_NAMES[code] for code in codes]

    def lanes(self) -> list[Lane]:
        """Every lane, in lane order (seed-major, then variant, actor LR, critic LR)."""
        return [
            Lane(seed, variant, a, c)
            for seed in range(self.first_seed, self.first_seed + self.seeds)
            for variant in self.variants
            for a in self.actor_lrs
            for c in self.critic_lrs
        ]

    def variant_hyperparams(self, variant: str) -> HyperParams:
        """The settings of one variant (learning rates left at 1; where variants set sizes,
        the units of its networks' hidden layers)."""
        traced = {k: v for k, v in {**self.mitigations, **self.variants[variant]}.items() if k not in SIZES}
        units = {SIZES[name]: np.asarray(widths) for name, widths in self.sizes(variant).items()} if self.sized else {}
        return HyperParams(actor_lr=1.0, critic_lr=1.0, **traced, **units)

    def hyperparams(self) -> HyperParams:
        """Every field with a leading lane axis (G,) (float32; the activation code int32)."""
        per_lane = [
            self.variant_hyperparams(lane.variant).replace(actor_lr=lane.actor_lr, critic_lr=lane.critic_lr).as_arrays()
            for lane in self.lanes()
        ]
        return jax.tree.map(lambda *values: np.stack(values), *per_lane)

    def lane_keys(self) -> chex.PRNGKey:
        return jax.vmap(seed_key)(jnp.asarray([lane.seed for lane in self.lanes()], jnp.uint32))

    def digest(self) -> str:
        """A SHA-256 (hex) of what the definition computes: equal definitions, equal digests."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True, allow_nan=False).encode()).hexdigest()

    def to_dict(self) -> dict:
        """The flat form (JSON-ready): every field, every static setting by name."""
        return {
            "name": self.name,
            "actor_lrs": list(self.actor_lrs),
            "critic_lrs": list(self.critic_lrs),
            "seeds": self.seeds,
            "first_seed": self.first_seed,
            **{name: encoded_real(value) for name, value in settings.static_values(self.train).items()},
            "mitigations": _encoded(self.mitigations),
            "variants": {variant: _encoded(values) for variant, values in self.variants.items()},
            "chunk": self.chunk,
        }

    @classmethod
    def from_dict(cls, values: dict) -> "SweepDefinition":
        """A definition from its flat form; keys left out take their defaults. A malformed
        or unknown key is a ``SettingError`` naming it."""
        if not isinstance(values, dict):
            raise SettingError("definition", "must be an object (a JSON object in a file)")
        own = {f.name for f in dataclasses.fields(cls)} - {"train"}
        unknown = sorted(set(values) - own - set(settings.STATIC))
        if unknown:
            raise SettingError(
                unknown[0],
                "is not a sweep setting (known: the definition's "
                f"{sorted(own)} and the program's {sorted(settings.STATIC)})",
            )
        for name in ("name", "actor_lrs", "critic_lrs"):
            if name not in values:
                raise SettingError(name, "is required")
        values = _decoded(values)
        train = settings.train_config({k: v for k, v in values.items() if k in settings.STATIC})
        return cls(train=train, **{k: v for k, v in values.items() if k in own})


def _encoded(traced: dict) -> dict:
    return {name: encoded_real(value) for name, value in traced.items()}


def _decoded(values: dict) -> dict:
    """The flat form with every "inf" / "-inf" where a number belongs read as a float (the
    strings of ``to_dict``; JSON has no such numbers)."""
    decoded = {
        name: decoded_real(value) if name in settings.STATIC and settings.STATIC[name].kind == "float" else value
        for name, value in values.items()
    }
    for name in ("actor_lrs", "critic_lrs"):
        if isinstance(values.get(name), list):
            decoded[name] = [decoded_real(value) for value in values[name]]
    if isinstance(values.get("mitigations"), dict):
        decoded["mitigations"] = {name: decoded_real(value) for name, value in values["mitigations"].items()}
    if isinstance(values.get("variants"), dict):
        decoded["variants"] = {
            variant: {name: decoded_real(value) for name, value in traced.items()}
            if isinstance(traced, dict)
            else traced
            for variant, traced in values["variants"].items()
        }
    return decoded


def load_definition(name_or_path: str) -> SweepDefinition:
    """A sweep definition from a JSON file, given as a path or as a name in ``jaxmadrl/sweeps/`` (package data)
    (the file's stem is its name unless it sets one). ValueError naming the file."""
    path = pathlib.Path(name_or_path)
    if not path.is_file():
        path = paths.SWEEPS_DIR / f"{name_or_path}.json"
    if not path.is_file():
        known = sorted(p.stem for p in paths.SWEEPS_DIR.glob("*.json"))
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
