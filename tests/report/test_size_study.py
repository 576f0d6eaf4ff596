"""Seed 004's size study read off runs whose variants are sizes: returns per size, the
smallest solving symmetric network and actor, seed 004's row beside ours (made-up returns
on real definitions, so that the answer is known)."""

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

import jaxmadrl  # noqa: E402
from jaxmadrl.report import catalogue, size_study  # noqa: E402
from jaxmadrl.study.definition import SweepDefinition  # noqa: E402

LADDER = [(1, 1), (4, 4), (16, 16), (64, 64)]


def made_up_run(pairs: list[tuple[tuple[int, int], tuple[int, int]]], returns: dict) -> jaxmadrl.Run:
    """A 3-seed DDPG Pendulum run of (actor, critic) size variants whose last evaluation of
    each seed is ``returns[(actor, critic)][seed]`` (two evaluations: NaN, then that)."""
    definition = SweepDefinition.from_dict(
        {
            "name": "sizes",
            "domain": "gymnax:Pendulum-v1",
            "actor_lrs": [1e-3],
            "critic_lrs": [1e-3],
            "seeds": 3,
            "episodes": 2,
            "actor_hidden": [64, 64],
            "critic_hidden": [64, 64],
            "variants": {f"a{a[0]}-c{c[0]}": {"actor_hidden": list(a), "critic_hidden": list(c)} for a, c in pairs},
        }
    )
    lanes, evaluations = [], []
    for i, lane in enumerate(definition.lanes()):
        sizes = definition.sizes(lane.variant)
        final = returns[(sizes["actor_hidden"], sizes["critic_hidden"])][lane.seed]
        evaluations.append([np.nan, final])
        row = {"all_actors_stopped": None, "critic_first_unchanged": None, "final_saturation": 0.5}
        lanes.append({"lane": i, **lane._asdict(), **row})
    return jaxmadrl.Run(definition=definition, lanes=lanes, metrics={"eval_reward": np.asarray(evaluations)})


def test_the_smallest_solving_symmetric_network_and_actor_and_seed_004s_row():
    symmetric = made_up_run(
        [(s, s) for s in LADDER],
        {((1, 1), (1, 1)): [-900, -1000, -1100], ((4, 4), (4, 4)): [-300, -200, -400]}
        | {((16, 16), (16, 16)): [-150, -170, -190], ((64, 64), (64, 64)): [-140, -150, -160]},
    )
    asymmetric = made_up_run(
        [(a, (16, 16)) for a in LADDER],
        {((1, 1), (16, 16)): [-500, -600, -700], ((4, 4), (16, 16)): [-160, -170, -180]}
        | {((16, 16), (16, 16)): [0, 0, 0], ((64, 64), (16, 16)): [-150, -150, -150]},
    )
    results = size_study.size_results([symmetric, asymmetric])
    assert len(results) == 7  # (16, 16) / (16, 16) is in both: the first run's is kept
    assert size_study.solving_level(-160) == -176  # seed 004's threshold with its 10 % tolerance
    small, actor = size_study.study_answer(results, -160)
    assert (small.actor, small.mean) == ((16, 16), -170) and actor.actor == (4, 4) and actor.mean == -170
    assert (actor.actor_params, small.actor_params) == (41, 353)  # Pendulum: 3 → 4 → 4 → 1; 3 → 16 → 16 → 1
    table = size_study.describe_size_study([symmetric, asymmetric])
    assert "Solves: mean return ≥ -176 (seed 004's threshold -160" in table
    assert "| seed 004 | [16, 16] | -150.28 ± 9.08 | [4, 4] | 88.38% | [16, 16] | -158.97 ± 5.33 |" in table
    # 1 − 41/353 = 88.385 %: seed 004 writes 88.38 (it truncates), we round
    assert "| ours | [16, 16] | -170.00 ± 16.33 | [4, 4] | 88.39% | [16, 16] | -170.00 ± 8.16 |" in table
    assert (
        "| [1, 1] | [16, 16] | 8 | 369 | -600.00 ± 81.65 | no | 0.50 | 0/3 | 0/3 |" in table
    )  # critic: 4 → 16 → 16 → 1
    alone = size_study.describe_size_study([symmetric])  # no asymmetric pass: its columns stay empty
    assert "| ours | [16, 16] | -170.00 ± 16.33 | – | – | – | – |" in alone
    figure = size_study.plot_size_study([symmetric, asymmetric])
    assert [line.get_label() for line in figure.axes[0].get_lines()][-1] == "solves: ≥ -176"
    grid = size_study.plot_size_grid([symmetric, asymmetric]).axes[0]
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in grid.texts}
    assert len(cells) == 7 and cells[(2, 1)] == "-170 ✓" and cells[(2, 0)] == "-600"  # critic [16, 16]: row 2
    assert cells[(0, 0)] == "-1000" and (0, 1) not in cells  # actor [4, 4] never ran with critic [1, 1]
    assert grid.texts[0].get_color() in ("black", "white")
    summary = size_study.summarise_size_studies({("ddpg", "gymnax:Pendulum-v1"): [symmetric, asymmetric]})
    assert "| ddpg | gymnax:Pendulum-v1 | 3 × 400 | seed 004 | [16, 16] | -150.28 ± 9.08 | [4, 4] |" in summary
    assert "| | | | ours | [16, 16] | -170.00 ± 16.33 | [4, 4] | 88.39% | [16, 16] | -170.00 ± 8.16 |" in summary


def test_the_study_is_written_as_table1_and_a_figure_per_learner_and_environment(tmp_path):
    symmetric = made_up_run([(s, s) for s in LADDER], {(s, s): [-150.0] * 3 for s in LADDER})
    output = catalogue.write_size_study([symmetric], tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fig20_sizes_ddpg_gymnax-Pendulum-v1.pdf",
        "fig20_sizes_ddpg_gymnax-Pendulum-v1.png",
        "fig21_size_grid_ddpg_gymnax-Pendulum-v1.pdf",
        "fig21_size_grid_ddpg_gymnax-Pendulum-v1.png",
        "table1.md",
    ]
    table = (tmp_path / "table1.md").read_text()
    assert "## ddpg on gymnax:Pendulum-v1" in table and "| ours | [1, 1] | -150.00 ± 0.00 |" in table
    assert output.skipped == []


def test_the_smallest_rung_solving_is_its_own_smallest_actor_and_a_nan_seed_is_drawn_as_nan():
    returns = {(s, s): [-150.0, -150.0, -150.0] for s in LADDER} | {((64, 64), (64, 64)): [-150.0, np.nan, -150.0]}
    # the second seed of (64, 64) has no finite evaluation at all: a diverged lane
    symmetric = made_up_run([(s, s) for s in LADDER], returns)
    small, actor = size_study.study_answer(size_study.size_results([symmetric]), -160)
    assert small.actor == (1, 1) and actor is small  # no actor is smaller than the smallest rung
    grid = size_study.plot_size_grid([symmetric]).axes[0]
    assert sorted(t.get_text() for t in grid.texts) == ["-150 ✓"] * 3 + ["nan"]


def test_a_learner_without_seed_004s_threshold_gets_one_summary_row(monkeypatch):
    symmetric = made_up_run([(s, s) for s in LADDER], {(s, s): [-150.0] * 3 for s in LADDER})
    monkeypatch.setattr(size_study, "seed_004_row", lambda run: None)  # as for an environment seed 004 did not run
    summary = size_study.summarise_size_studies({("ddpg", "gymnax:MountainCarContinuous-v0"): [symmetric]})
    rows = [line for line in summary.splitlines() if line.startswith("| ddpg")]
    assert rows == [
        "| ddpg | gymnax:MountainCarContinuous-v0 | 3 × 400 | ours | seed 004 states no threshold: see the section "
        "below | – | – | – | – | – |"
    ]
