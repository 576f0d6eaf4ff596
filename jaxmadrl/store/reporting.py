"""What a running sweep tells the outside after compiling and after every chunk: a
``Progress`` to its caller and the chunk's metrics to the live logs (``jaxmadrl.logs``)."""

from __future__ import annotations

import pathlib
import time

import numpy as np

from jaxmadrl.agents import diagnostics
from jaxmadrl.logs import live
from jaxmadrl.store import names, run_folder
from jaxmadrl.store.progress import Progress
from jaxmadrl.study import lane_axis


def log_place(definition, folder: pathlib.Path, share: range, shard) -> live.LogPlace:
    """What the live logs of this session of the lanes ``share`` in ``folder`` need."""
    return live.LogPlace(
        folder=folder / names.LOGS,
        definition=definition,
        first_lane=share.start,
        lanes=tuple(definition.lanes()[share.start : share.stop]),
        title=f"{folder.parent.name} shard {shard}" if shard else folder.name,
        recorded=lambda: run_folder.recorded_chunks(folder),
    )


def reporter(definition, share, shard, lanes_per_call: int, first_done, compile_s, record, changed, on_progress, logs):
    """``report(episodes done, block states, the last chunk's metrics)``: the metrics to the
    live ``logs`` and a ``Progress`` to ``on_progress``."""
    run_start = time.perf_counter()

    def report(done, states, metrics=None):
        if metrics is not None:
            logs.write(done - len(next(iter(metrics.values()))), metrics)
        tracker = lane_axis.join_lanes([state.tracker for state in states])
        all_stopped = np.all(tracker.actor_first_unchanged != diagnostics.NEVER, axis=-1)
        on_progress(
            Progress(
                name=definition.name,
                shard=str(shard) if shard else "",
                lanes=len(share),
                variants=len(definition.variants),
                calls=len(states),
                lanes_per_call=lanes_per_call,
                episodes=definition.episodes,
                first_episode=first_done,
                episodes_done=done,
                lanes_all_stopped=int(all_stopped.sum()),
                compile_s=compile_s,
                elapsed_s=time.perf_counter() - run_start,
                environment=record,
                changed=changed,
            )
        )

    return report
