"""Reading a finished run: its definition, its lane table and its metrics, as a ``Run``.

run = load_run("sweeps/runs/all16-…")
run.metrics["grad_ratio"][run.select(actor_lr=0.1)]   # (lanes, episodes)
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import zipfile

import numpy as np

from jaxmadrl.store import final_params, names
from jaxmadrl.study.definition import Lane, SweepDefinition

LANE_COLUMNS = Lane._fields


class RunError(ValueError):
    """A folder that is not a finished, readable sweep run."""


@dataclasses.dataclass
class Run:
    """A finished sweep: its definition, its lane table — one row per lane: "lane", "seed",
    "variant", "actor_lr", "critic_lr" and the lane's summary (``results.lane_summary``) —
    and the metrics, each (lanes, episodes, ...)."""

    definition: SweepDefinition
    lanes: list[dict]
    metrics: dict[str, np.ndarray]
    environment: list[dict] | None = None  # one record per session that computed it (provenance)
    folder: pathlib.Path | None = None  # where it was loaded from

    def final_params(self) -> dict[str, np.ndarray]:
        """Every lane's trained parameters, named (``store.final_params``: (lanes, ...) each).
        RunError if the run keeps none (it finished before runs kept them, or is not loaded
        from a folder)."""
        if self.folder is None:
            raise RunError("this Run was not loaded from a run folder")
        try:
            return final_params.read(self.folder)
        except ValueError as error:
            raise RunError(str(error)) from None

    @property
    def episodes(self) -> int:
        return self.definition.episodes

    @property
    def actor_lrs(self) -> list[float]:
        return sorted(self.definition.actor_lrs)

    @property
    def critic_lrs(self) -> list[float]:
        return sorted(self.definition.critic_lrs)

    @property
    def seeds(self) -> int:
        return self.definition.seeds

    @property
    def variants(self) -> list[str]:
        return list(self.definition.variants)

    def only_variant(self, variant: str) -> "Run":
        """The lanes of one variant as a run of their own (lanes renumbered from 0)."""
        rows = [r for r in self.lanes if r["variant"] == variant]
        index = [r["lane"] for r in rows]
        return Run(
            definition=dataclasses.replace(self.definition, variants={variant: self.definition.variants[variant]}),
            lanes=[{**r, "lane": i} for i, r in enumerate(rows)],
            metrics={k: v[index] for k, v in self.metrics.items()},
            environment=self.environment,
        )

    def configs(self) -> list[tuple[float, float]]:
        return [(a, c) for a in self.actor_lrs for c in self.critic_lrs]

    def select(self, **wanted) -> list[int]:
        """The lanes whose lane-table entries equal ``wanted`` (any of seed, variant,
        actor_lr, critic_lr), in lane order: ``run.metrics["grad_ratio"][run.select(actor_lr=0.1)]``."""
        unknown = set(wanted) - set(LANE_COLUMNS)
        if unknown:
            raise ValueError(f"lanes are selected by {list(LANE_COLUMNS)}, not {sorted(unknown)}")
        return [r["lane"] for r in self.lanes if all(r[k] == v for k, v in wanted.items())]

    def stop(self, lane: int) -> int:
        """All-actors stopping episode, ``episodes`` where they never all stopped."""
        value = self.lanes[lane]["all_actors_stopped"]
        return self.episodes if value is None else value

    def to_dataframe(self, metrics=None):
        """The ``metrics`` named (default: all) as one long pandas table (``store.frames``)."""
        from jaxmadrl.store import frames

        return frames.metrics_frame(self.lanes, self.metrics, metrics)

    def lane_frame(self):
        """The lane table as a pandas DataFrame."""
        from jaxmadrl.store import frames

        return frames.lane_frame(self.lanes)

    def per_config(self, value_of_lane) -> np.ndarray:
        """(actor LRs, critic LRs, seeds) array of ``value_of_lane(lane)``."""
        return np.array(
            [
                [[value_of_lane(lane) for lane in self.select(actor_lr=a, critic_lr=c)] for c in self.critic_lrs]
                for a in self.actor_lrs
            ],
            dtype=float,
        )


def load_run(path) -> Run:
    """The finished run in the folder ``path`` (``run_sweep``'s, ``python -m jaxmadrl.sweep``'s
    or ``train``'s). RunError, naming the folder, if it is not one."""
    if not isinstance(path, (str, pathlib.PurePath)):
        raise RunError(f"load_run takes the path of a run folder, got {type(path).__name__}")
    run_dir = pathlib.Path(path)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunError(f"{run_dir} is a file, not a run folder")
    if not run_dir.is_dir():
        raise RunError(f"{run_dir} does not exist")
    if not (run_dir / names.DEFINITION).is_file():
        raise RunError(f"{run_dir} is not a sweep run (no sweep.json)")
    missing = [name for name in (names.SUMMARY, names.METRICS) if not (run_dir / name).is_file()]
    if missing and (run_dir / names.PLAN).is_file():
        raise RunError(
            f"{run_dir} is a sharded sweep whose shards are not merged yet; once all are done, "
            f"python -m jaxmadrl.sweep --merge {run_dir}"
        )
    if missing:
        raise RunError(
            f"{run_dir} is not a finished sweep run (missing {', '.join(missing)}); "
            f"finish it with python -m jaxmadrl.sweep --resume {run_dir}"
        )
    try:
        summary = json.loads((run_dir / names.SUMMARY).read_text())
        definition = SweepDefinition.from_dict(summary["definition"])
        with np.load(run_dir / names.METRICS) as saved:
            metrics = dict(saved)
        lanes = [dict(row) for row in summary["lanes"]]
        shape = metrics["train_reward"].shape
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise RunError(f"{run_dir} cannot be read: {error}")
    if shape != (len(lanes), definition.episodes):
        raise RunError(f"{run_dir}: metrics.npz does not match its summary")
    _upgrade_older_format(metrics, lanes)
    return Run(
        definition=definition, lanes=lanes, metrics=metrics, environment=summary.get("environment"), folder=run_dir
    )


def _upgrade_older_format(metrics: dict, lanes: list[dict]) -> None:
    """Runs written before the metric names were made unambiguous called the tanh measure
    "saturation" and the measure of the activation in use "output_saturation", and the
    last evaluation "final_eval_reward": renamed here, in place, to today's names."""
    if "output_saturation" in metrics:
        metrics["tanh_saturation"] = metrics.pop("saturation")
        metrics["saturation"] = metrics.pop("output_saturation")
        for row in lanes:
            row["final_saturation"] = float(metrics["saturation"][row["lane"], -1])
    for row in lanes:
        if "final_eval_reward" in row:
            row["last_eval_reward"] = row.pop("final_eval_reward")
