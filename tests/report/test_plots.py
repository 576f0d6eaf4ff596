"""Every figure as a function of a run that draws and returns a matplotlib Figure, into the
caller's axes or figure if given, and saves nothing; the over-time small multiples draw
what their caption says (median over seeds of each lane's trailing mean, inter-quartile band)."""

import warnings

import matplotlib

matplotlib.use("Agg")  # this test process draws off-screen; the package never chooses a backend
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import jaxmadrl  # noqa: E402
from jaxmadrl.core import paths  # noqa: E402
from jaxmadrl.report import catalogue, comparison_plots, drawing, over_time, plots  # noqa: E402
from jaxmadrl.study.definition import SweepDefinition  # noqa: E402

RESULTS = paths.REPOSITORY_DIR / "sweeps" / "results"


@pytest.fixture(scope="module")
def grid_run():
    return jaxmadrl.load_run(RESULTS / "grad-norm-definitions" / "all16-3seeds")


def synthetic_run(series: dict[str, np.ndarray], seeds: int = 3) -> jaxmadrl.Run:
    """A run of 2 actor LRs × 2 critic LRs × ``seeds`` seeds with the given metrics (lanes, E)."""
    episodes = next(iter(series.values())).shape[1]
    definition = SweepDefinition.from_dict(
        {"name": "t", "actor_lrs": [1e-3, 1e-1], "critic_lrs": [1e-3, 1e-2], "seeds": seeds, "episodes": episodes}
    )
    lanes = [{"lane": i, **lane._asdict(), "all_actors_stopped": None} for i, lane in enumerate(definition.lanes())]
    return jaxmadrl.Run(definition=definition, lanes=lanes, metrics=series)


def plain_trailing_means(values: np.ndarray, window: int) -> np.ndarray:
    """The mean of each episode's last ``window`` finite values, one episode at a time."""
    out = np.full(values.shape, np.nan)
    for lane in range(values.shape[0]):
        for episode in range(values.shape[1]):
            recent = values[lane, max(0, episode - window + 1) : episode + 1]
            recent = recent[np.isfinite(recent)]
            if recent.size:
                out[lane, episode] = recent.mean()
    return out


def test_every_figure_of_a_run_is_a_figure_drawn_and_not_saved(grid_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = []
    for name, draw in catalogue.figures_of_run(grid_run, window=25):
        figure = draw()
        assert isinstance(figure, matplotlib.figure.Figure) and figure.axes, name
        names.append(name)
        plt.close(figure)
    assert names == sorted(names) and len(names) == 17  # fig01-16 but 17/18 (several runs), and fig19
    assert "fig19_reference_logged_run" in names and "fig11_learning_curves" in names
    assert list(tmp_path.iterdir()) == []  # drawing writes nothing; drawing.save does
    written = drawing.save(over_time.plot_saturation_over_time(grid_run), tmp_path, "saturation")
    assert [path.name for path in written] == ["saturation.png", "saturation.pdf"]


def test_a_figure_draws_into_the_callers_axes_or_figure(grid_run):
    figure, (left, right) = plt.subplots(1, 2)
    assert plots.plot_stopping_heatmap(grid_run, ax=left) is figure
    assert plots.plot_saturation_vs_stopping(grid_run, ax=right) is figure
    assert left.get_title().startswith("All-actors stopping episode") and right.collections
    outer = plt.figure(layout="constrained")
    top, bottom = outer.subfigures(2, 1)
    assert over_time.plot_learning_curves(grid_run, fig=top) is top
    assert comparison_plots.plot_variants(grid_run, fig=bottom) is bottom
    assert len(top.axes) == len(grid_run.actor_lrs)  # a panel per actor LR
    assert len(bottom.axes) == 3 + 3  # stopping, reward and saturation heatmaps of the one variant, with colour bars
    plt.close("all")


def test_over_time_panels_draw_the_median_and_quartiles_of_each_lanes_trailing_mean():
    rng = np.random.default_rng(0)
    reward = rng.normal(size=(12, 9))
    reward[3, 2] = np.nan  # an episode without a value is left out of its lane's mean
    run = synthetic_run({"train_reward": reward})
    figure = over_time.plot_learning_curves(run, window=4)
    assert [ax.get_title() for ax in figure.axes] == ["actor LR 0.001", "actor LR 0.1"]
    smoothed = plain_trailing_means(reward, 4)
    for ax, actor_lr in zip(figure.axes, run.actor_lrs):
        lines = [line for line in ax.get_lines() if line.get_label().startswith("critic LR")]
        assert [line.get_label() for line in lines] == ["critic LR 0.001", "critic LR 0.01"]
        for line, band, critic_lr in zip(lines, ax.collections, run.critic_lrs):
            seeds = smoothed[run.select(actor_lr=actor_lr, critic_lr=critic_lr)]
            np.testing.assert_allclose(line.get_ydata(), np.median(seeds, 0), rtol=1e-12)
            low, high = np.percentile(seeds, 25, 0), np.percentile(seeds, 75, 0)
            vertices = band.get_paths()[0].vertices[:, 1]
            assert np.isclose(vertices.min(), low.min()) and np.isclose(vertices.max(), high.max())
    assert "median over 3 seeds, band = inter-quartile range; 4-episode trailing mean" in figure.get_suptitle()
    plt.close(figure)


@pytest.mark.parametrize("seeds", [1, 2, 3, 5, 8])
def test_seed_quartiles_are_numpys_nanpercentiles_of_each_column(seeds):
    """Columns with every count of numbers (none to all), NaN anywhere, ties: bit for bit what
    ``np.nanpercentile`` gives column by column."""
    rng = np.random.default_rng(seeds)
    rows = rng.normal(scale=1e3, size=(seeds, 400))
    rows[:, ::7] = np.round(rows[:, ::7] / 500)  # ties
    rows[:, seeds + 1 :][rng.random((seeds, 400 - seeds - 1)) < 0.3] = np.nan
    counted = rows[:, : seeds + 1]  # column j: a number in its first j rows only
    counted[np.arange(seeds)[:, None] >= np.arange(seeds + 1)] = np.nan
    median, low, high = drawing.seed_quartiles(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        expected = [np.array([np.nanpercentile(column, q) for column in rows.T]) for q in (50, 25, 75)]
    for ours, theirs in zip((median, low, high), expected):
        np.testing.assert_array_equal(ours, theirs)
    assert np.isnan(median[0]) and not np.isnan(median[1 : seeds + 1]).any()


def test_log_panels_average_log10_and_draw_an_exact_zero_at_the_floor():
    ratio = np.full((12, 6), 1e-4)
    ratio[:, 3:] = 0.0  # every lane stops after episode 3
    ratio[0, 0] = 1e-2
    run = synthetic_run({"grad_ratio": ratio})
    figure = over_time.plot_asymmetry_over_time(run, window=2)
    first = figure.axes[0].get_lines()[0]  # actor LR 1e-3, critic LR 1e-3: lanes 0, 4, 8
    expected = np.median(10 ** plain_trailing_means(np.log10(np.maximum(ratio, drawing.LOG_FLOOR)), 2)[[0, 4, 8]], 0)
    np.testing.assert_allclose(first.get_ydata(), expected, rtol=1e-12)
    assert first.get_ydata()[-1] == pytest.approx(drawing.LOG_FLOOR)
    assert figure.axes[0].get_yscale() == "log" and "0 drawn at 1e-12" in figure.get_suptitle()
    plt.close(figure)


@pytest.mark.parametrize("seeds", [1, 2])
def test_log_panels_of_a_run_before_its_first_train_step_are_drawn_empty_whatever_the_seeds(seeds):
    """No gradient yet (all NaN): the panels are drawn without lines' values or bands, with one
    seed as with several (a band of NaN on a log axis would make matplotlib refuse the figure)."""
    run = synthetic_run({"grad_ratio": np.full((4 * seeds, 1), np.nan)}, seeds=seeds)
    figure = over_time.plot_asymmetry_over_time(run, window=1)
    assert all(np.isnan(line.get_ydata()).all() for ax in figure.axes for line in ax.get_lines())
    assert not any(ax.collections for ax in figure.axes)  # no band
    plt.close(figure)


def test_other_domains_get_the_figures_without_the_papers_comparisons():
    run = jaxmadrl.load_run(RESULTS / "pendulum")
    names = [name for name, _ in catalogue.figures_of_run(run)]
    assert "fig16_reference_vs_ours" not in names and "fig19_reference_logged_run" not in names
    assert len(names) == 15
