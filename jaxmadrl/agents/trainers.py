"""The training program of a ``TrainConfig``, by its learner: the Client-Master learner in
the MEC world (``ccm.training``), DDPG/MADDPG and TD3 (``ddpg``), SAC (``sac``) or PPO
(``ppo``) elsewhere. Each gives a ``scaffold.Trainer`` whose metrics are the schema's for its
learner, so the grid, checkpoints, results and figures serve every one."""

from __future__ import annotations

import functools
from typing import Callable

from jaxmadrl.agents.ccm import training
from jaxmadrl.agents.config import TrainConfig
from jaxmadrl.agents.ddpg import learner as ddpg
from jaxmadrl.agents.ppo import learner as ppo
from jaxmadrl.agents.sac import learner as sac
from jaxmadrl.agents.scaffold import Trainer
from jaxmadrl.core.limits import SettingError

MAKERS = {
    "ccm": training.make_trainer,
    "ddpg": ddpg.make_trainer,
    "td3": ddpg.make_trainer,
    "sac": sac.make_trainer,
    "ppo": ppo.make_trainer,
}


def trainer_of(config: TrainConfig) -> Trainer:
    """The ``Trainer`` of the program ``config`` fixes, by its learner. SettingError if
    ``config`` is not a ``TrainConfig``. Equal configs get the same ``Trainer`` (its
    functions the same objects), so that JAX, which caches what it traced and compiled by
    function, does that once per program and process; the 16 latest are kept."""
    if not isinstance(config, TrainConfig):
        raise SettingError("config", f"must be a TrainConfig, got {type(config).__name__}")
    return _cached_trainer(config)


@functools.lru_cache(maxsize=16)
def _cached_trainer(config: TrainConfig) -> Trainer:
    return MAKERS[config.learner_name](config)


def make_train(config: TrainConfig) -> Callable:
    """The whole run as one pure function ``train(key, hparams) → (final state, metrics)``;
    each metric has a leading axis of ``config.episodes``."""
    return trainer_of(config).train
