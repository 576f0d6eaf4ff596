"""The tidy CSV log, ``logs/metrics.csv``: one row per lane, episode and tag (``live``), with
columns lane (numbered as in the whole sweep), episode (from 1), metric and value, appended
after every chunk. NaN values are left out. On a resume the file is written anew from the
run's recorded chunks, so that nothing appended after the checkpoint is counted twice."""

from __future__ import annotations

import io
import os

import numpy as np

from jaxmadrl.core import files
from jaxmadrl.logs.live import WRITES, LogPlace, tag_series

FILE = WRITES["csv"]
HEADER = "lane,episode,metric,value\n"


def chunk_rows(first_lane: int, first_episode: int, metrics: dict[str, np.ndarray]) -> str:
    """The CSV rows of a chunk (no header); values as ``%.9g``, which float32 values survive exactly."""
    out = io.StringIO()
    for tag, values in tag_series(metrics).items():
        episodes, lanes = np.nonzero(~np.isnan(values))
        for episode, lane, value in zip(episodes, lanes, values[episodes, lanes]):
            out.write(f"{first_lane + lane},{first_episode + episode + 1},{tag},{value:.9g}\n")
    return out.getvalue()


class CsvLog:
    def __init__(self, place: LogPlace):
        self.path, self.first_lane = place.folder / FILE, place.first_lane
        text = HEADER + "".join(chunk_rows(self.first_lane, first, m) for first, m in place.recorded())
        files.write_atomically(self.path, lambda f: f.write(text.encode()))

    def write(self, first_episode: int, metrics: dict[str, np.ndarray]) -> None:
        with open(self.path, "a") as file:
            file.write(chunk_rows(self.first_lane, first_episode, metrics))
            file.flush()
            os.fsync(file.fileno())

    def close(self) -> None:
        pass
