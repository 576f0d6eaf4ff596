"""A run as pandas tables: every value in its place, named by lane, episode and component."""

import sys

import numpy as np
import pytest

import jaxmadrl


def small_run():
    definition = jaxmadrl.SweepDefinition.from_dict(
        {"name": "frames", "actor_lrs": [1e-3, 1e-1], "critic_lrs": [1e-2], "seeds": 2, "episodes": 4}
    )
    lanes = [
        {"lane": i, "seed": lane.seed, "variant": lane.variant, "actor_lr": lane.actor_lr, "critic_lr": lane.critic_lr}
        for i, lane in enumerate(definition.lanes())
    ]
    rng = np.random.default_rng(0)
    metrics = {
        "grad_ratio": rng.normal(size=(4, 4)).astype(np.float32),
        "actor_max_delta": rng.normal(size=(4, 4, 3)).astype(np.float32),  # N = 3 agents
        "critic_grad_norm_layers": rng.normal(size=(4, 4, 2)).astype(np.float32),  # L = 2 layers
    }
    metrics["grad_ratio"][:, 0] = np.nan  # no update in the first episode: the row stays, NaN
    return jaxmadrl.Run(definition=definition, lanes=lanes, metrics=metrics)


def test_every_value_is_one_row_named_by_lane_episode_and_component():
    run = small_run()
    frame = run.to_dataframe()
    assert list(frame.columns) == [
        "lane",
        "seed",
        "variant",
        "actor_lr",
        "critic_lr",
        "episode",
        "agent",
        "layer",
        "metric",
        "value",
    ]
    assert len(frame) == sum(values.size for values in run.metrics.values())
    for row in frame.sample(40, random_state=0).itertuples():
        values = run.metrics[row.metric]
        component = row.agent if row.metric == "actor_max_delta" else row.layer
        expected = (
            values[row.lane, row.episode - 1] if values.ndim == 2 else values[row.lane, row.episode - 1, component]
        )
        np.testing.assert_array_equal(row.value, expected)
        lane = run.lanes[row.lane]
        assert (row.seed, row.actor_lr, row.critic_lr, row.variant) == (
            lane["seed"],
            lane["actor_lr"],
            lane["critic_lr"],
            lane["variant"],
        )
    ratio = frame[frame.metric == "grad_ratio"]
    assert ratio.agent.isna().all() and ratio.layer.isna().all() and ratio[ratio.episode == 1].value.isna().all()
    assert sorted(frame[frame.metric == "actor_max_delta"].agent.unique()) == [0, 1, 2]


def test_chosen_metrics_the_lane_table_and_the_errors(monkeypatch):
    run = small_run()
    only = run.to_dataframe(["grad_ratio"])
    assert set(only.metric) == {"grad_ratio"} and len(only) == 16 and "agent" not in only.columns
    assert run.lane_frame().to_dict("records") == run.lanes
    with pytest.raises(KeyError, match="no metric \\['saturation'\\]"):
        run.to_dataframe(["saturation"])
    monkeypatch.setitem(sys.modules, "pandas", None)  # pandas not installed
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'jaxmadrl\[analysis\]'"):
        run.to_dataframe()
