"""The Weights & Biases log: one W&B run per sweep run (or shard), in the group of the sweep's
name, its definition as the config. The lanes are columns of that run, not runs of their own:
every tag (``live``) of lane K is logged as ``<tag>/<lane name>`` at step = episode, so W&B
puts each metric in one section with a line per lane, and a sweep of hundreds of lanes stays
one run to open, resume and delete. Offline unless W&B has credentials (``WANDB_API_KEY``
or a login) or ``WANDB_MODE`` says otherwise; ``wandb sync RUN/logs/wandb`` uploads it later.
``logs/wandb.json`` records the run's id and the episodes logged, so that a resume continues
the same W&B run from there."""

from __future__ import annotations

import json
import netrc
import os
import secrets

import numpy as np
import wandb

from jaxmadrl.core import files
from jaxmadrl.logs.live import WRITES, LogPlace, tag_series

RECORD = WRITES["wandb"]
PROJECT = "jaxmadrl"  # unless WANDB_PROJECT names another


def _mode() -> str:
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    return "online" if os.environ.get("WANDB_API_KEY") or _logged_in() else "offline"


def _logged_in() -> bool:
    """Whether ``wandb login`` left credentials (in ~/.netrc), without asking W&B."""
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


class WandbLog:
    def __init__(self, place: LogPlace):
        self._record_path = place.folder / RECORD
        record = json.loads(self._record_path.read_text()) if self._record_path.is_file() else {}
        self._record = {"id": record.get("id") or secrets.token_hex(6), "episodes_logged": 0, **record}
        self._names = place.lane_names()
        self._run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", PROJECT),
            group=place.definition.name,
            name=place.title,
            id=self._record["id"],
            resume="allow",
            dir=str(place.folder),
            mode=_mode(),
            config={**place.definition.to_dict(), "lanes": self._names},
            settings=wandb.Settings(silent=True, console="off"),  # the run's own output stays as it is
        )
        self._save()
        for first, metrics in place.recorded():
            self.write(first, metrics)

    def _save(self) -> None:
        files.write_atomically(self._record_path, lambda f: f.write(files.json_text(self._record).encode()))

    def write(self, first_episode: int, metrics: dict[str, np.ndarray]) -> None:
        series = tag_series(metrics)
        n_episodes = next(iter(series.values())).shape[0]
        for episode in range(n_episodes):
            number = first_episode + episode + 1
            if number <= self._record["episodes_logged"]:
                continue  # logged before the run was interrupted
            row = {
                f"{tag}/{name}": float(values[episode, lane])
                for tag, values in series.items()
                for lane, name in enumerate(self._names)
                if not np.isnan(values[episode, lane])
            }
            self._run.log(row, step=number)
        self._record["episodes_logged"] = max(self._record["episodes_logged"], first_episode + n_episodes)
        self._save()

    def close(self) -> None:
        self._run.finish()
