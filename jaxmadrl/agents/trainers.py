"""The training program of a ``TrainConfig``, whatever its domain: the Client-Master
learner in the MEC world (``training``), DDPG/MADDPG elsewhere (``ddpg``). Both give a
``scaffold.Trainer`` with the same metric names, so the grid, checkpoints, results and
figures serve every domain."""

from __future__ import annotations

from typing import Callable

from jaxmadrl.agents.ccm import training
from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.ddpg import learner as ddpg
from jaxmadrl.agents.scaffold import Trainer
from jaxmadrl.core.limits import SettingError
from jaxmadrl.envs import domains


def trainer_of(config: TrainConfig) -> Trainer:
    """The ``Trainer`` of the program ``config`` fixes, by its domain. SettingError if
    ``config`` is not a ``TrainConfig``."""
    if not isinstance(config, TrainConfig):
        raise SettingError("config", f"must be a TrainConfig, got {type(config).__name__}")
    return (training.make_trainer if config.domain == domains.MEC else ddpg.make_trainer)(config)


def make_train(config: TrainConfig) -> Callable:
    """The whole run as one pure function ``train(key, hparams) → (final state, metrics)``;
    each metric has a leading axis of ``config.episodes``."""
    return trainer_of(config).train
