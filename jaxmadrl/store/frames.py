"""A run as pandas tables, for notebooks (``pip install 'jaxmadrl[analysis]'``): the lane table,
and metrics in long form, one row per lane, episode, component and metric.

    run = jaxmadrl.load_run("sweeps/results/all16-3seeds")
    frame = run.to_dataframe(["grad_ratio", "actor_grad_norm_layers"])
    frame.groupby(["actor_lr", "critic_lr", "episode"])["value"].median()
"""

from __future__ import annotations

import numpy as np

from jaxmadrl.agents import metric_schema

LANE_COLUMNS = ("lane", "seed", "variant", "actor_lr", "critic_lr")
# The column that numbers a metric's last axis, by its schema shape.
COMPONENT_COLUMNS = {"N": "agent", "L": "layer", "C": "critic", "A": "head"}


def _pandas():
    try:
        import pandas
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError("DataFrames need pandas: pip install 'jaxmadrl[analysis]'") from error
    return pandas


def lane_frame(lanes: list[dict]):
    """The lane table (one row per lane: its seed, variant, learning rates and summary)."""
    return _pandas().DataFrame(lanes)


def metrics_frame(lanes: list[dict], metrics: dict[str, np.ndarray], names=None):
    """Long form of ``metrics`` (each (lanes, episodes, *shape)) for the ``names`` given (default:
    every metric of the run): columns lane, seed, variant, actor_lr, critic_lr, episode (from 1),
    metric, value, and agent / layer / critic where a metric has one (else missing). Rows
    whose value is NaN (an episode without an update or evaluation) are kept."""
    pandas = _pandas()
    names = sorted(metrics) if names is None else list(names)
    unknown = [name for name in names if name not in metrics]
    if unknown:
        raise KeyError(f"the run has no metric {unknown}; it has {sorted(metrics)}")
    lane_table = pandas.DataFrame([{column: row[column] for column in LANE_COLUMNS} for row in lanes])
    parts = []
    for name in names:
        values = metrics[name]
        index = np.indices(values.shape).reshape(values.ndim, -1)
        part = {"lane": index[0], "episode": index[1] + 1, "metric": name, "value": values.reshape(-1)}
        shape = metric_schema.METRICS[name].shape if name in metric_schema.METRICS else ""
        if values.ndim == 3:
            part[COMPONENT_COLUMNS.get(shape, "component")] = index[2]
        parts.append(pandas.DataFrame(part))
    long = pandas.concat(parts, ignore_index=True).merge(lane_table, on="lane", how="left")
    components = [c for c in (*COMPONENT_COLUMNS.values(), "component") if c in long]
    for column in components:
        long[column] = long[column].astype("Int64")  # missing where the metric has no such axis
    return long[[*LANE_COLUMNS, "episode", *components, "metric", "value"]]
