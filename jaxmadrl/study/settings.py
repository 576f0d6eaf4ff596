"""Every setting of a run by name, derived from the dataclass fields that hold it.

A setting is a field of ``EnvParams`` or ``TrainConfig`` (static: it shapes the compiled
program) or of ``HyperParams`` (traced: a value the program takes as input). Each field is
documented once, in its dataclass (``help`` in its metadata); the sweep-file keys and the
command-line flags are these names, with that help. Static settings are written flat in a
sweep definition (``"n_agents": 5``); traced ones under ``mitigations`` or a variant.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.hyperparams import HyperParams
from jaxmadrl.core.limits import SettingError, check_widths, is_number
from jaxmadrl.envs.mec import EnvParams

# TrainConfig fields that are not settings of a definition: the environment is its own
# settings; the matmul precision is chosen per run, and the hidden LayerNorms and the masks
# of lanes' sizes are built as the lanes need them (how it computes, not what).
NOT_DEFINITION_SETTINGS = ("env", "matmul_precision", "hidden_norm_layers", "masked_sizes")
LEARNING_RATES = ("actor_lr", "critic_lr")
UNIT_COUNTS = ("actor_units", "critic_units")  # filled from the variants' sizes (``definition``)


@dataclasses.dataclass(frozen=True)
class Setting:
    """One field as a setting. ``holder``: "env" (EnvParams), "train" (TrainConfig) or
    "traced" (HyperParams); ``choices``: the allowed strings (for the traced output
    activation, the names of its codes); ``switch``: a 0/1 value."""

    name: str
    holder: str
    default: Any
    help: str
    choices: tuple[str, ...] | None
    switch: bool

    @property
    def kind(self) -> str:
        """ "widths", "choice", "switch", "int", "float" or "str"."""
        if isinstance(self.default, tuple):
            return "widths"
        if self.choices is not None:
            return "choice"
        if self.switch:
            return "switch"
        return "int" if isinstance(self.default, int) else "float" if isinstance(self.default, float) else "str"

    def checked(self, value):
        """``value`` as this setting holds it (widths as a tuple); SettingError naming the
        setting if a number is not one. Ranges and choices are checked by the dataclass
        that holds the setting."""
        if self.kind == "widths":
            return tuple(int(w) for w in check_widths(self.name, value))
        if self.kind == "switch" and self.holder != "traced":  # a static switch: the program has it or not
            if value not in (0, 1):  # True and False among them
                raise SettingError(self.name, f"must be true or false (1 or 0), got {value!r}")
            return bool(value)
        if self.kind in ("float", "switch") and not is_number(value):
            raise SettingError(self.name, f"must be a number, got {value!r}")
        return value


def _settings_of(cls, holder: str, skipped: tuple[str, ...] = ()) -> dict[str, Setting]:
    return {
        f.name: Setting(
            f.name, holder, f.default, f.metadata["help"], f.metadata.get("choices"), f.metadata.get("switch", False)
        )
        for f in dataclasses.fields(cls)
        if f.name not in skipped
    }


STATIC = {**_settings_of(EnvParams, "env"), **_settings_of(TrainConfig, "train", NOT_DEFINITION_SETTINGS)}
TRACED = _settings_of(HyperParams, "traced", LEARNING_RATES + UNIT_COUNTS)
ALL = {**STATIC, **TRACED}
LEARNING_RATE_HELP = {
    name: f.metadata["help"] for name, f in HyperParams.__dataclass_fields__.items() if name in LEARNING_RATES
}


def train_config(values: dict) -> TrainConfig:
    """The ``TrainConfig`` of flat static settings (``STATIC`` names; the rest default);
    SettingError naming the first bad one."""
    unknown = sorted(set(values) - set(STATIC))
    if unknown:
        raise SettingError(unknown[0], f"is not a setting of the training program; known: {sorted(STATIC)}")
    checked = {name: STATIC[name].checked(value) for name, value in values.items()}
    env = EnvParams(**{k: v for k, v in checked.items() if STATIC[k].holder == "env"})
    return TrainConfig(env=env, **{k: v for k, v in checked.items() if STATIC[k].holder == "train"})


def static_values(config: TrainConfig) -> dict:
    """Every static setting of ``config``, flat, by name (the inverse of ``train_config``)."""
    return {name: getattr(config.env if setting.holder == "env" else config, name) for name, setting in STATIC.items()}
