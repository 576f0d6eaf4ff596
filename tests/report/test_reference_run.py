"""The reference's logged run as shipped, and the comparison of a run with it."""

import numpy as np
import pytest

import jaxmadrl
from jaxmadrl.report import analysis, reference_run


def test_the_logged_run_is_the_reference_repositorys_and_differs_from_table_3_in_8_cells():
    logged = reference_run.logged_run()
    assert len(logged) == 16
    table3 = analysis.reference_stopping()
    assert sum(table3[config] != c["all_actors_stopped"] for config, c in logged.items()) == 8
    for c in logged.values():
        assert len(c["actor_stopped"]) == 50 and len(c["train_reward"]) == c["episodes_run"]
        if c["all_actors_stopped"] < 2000:  # the last actor to stop stops them all; 101 more episodes ran
            assert (
                max(c["actor_stopped"]) == c["all_actors_stopped"]
                and c["episodes_run"] == c["all_actors_stopped"] + 101
            )
        assert [row["episode"] for row in c["tracked"]] == list(range(10, c["episodes_run"] + 1, 10))
    # Two values read off the source by hand: the largest improvement at actor LR 1e-4.
    rewards = np.asarray(logged[1e-4, 1e-2]["train_reward"])
    assert round(rewards[:100].mean() / 1e3, 1) == -35.9 and round(rewards[-100:].mean() / 1e3, 1) == -11.9


def run_around_the_reference(offsets, episodes=2000):
    """A run of actor LR 1e-4 / critic LR 1e-2 whose seeds' rewards are the reference's plus ``offsets``."""
    definition = jaxmadrl.SweepDefinition.from_dict(
        {"name": "around", "actor_lrs": [1e-4], "critic_lrs": [1e-2], "seeds": len(offsets), "episodes": episodes}
    )
    reference = np.asarray(reference_run.logged_run()[1e-4, 1e-2]["train_reward"])[:episodes]
    lanes = [
        {
            "lane": i,
            "seed": i,
            "variant": "default",
            "actor_lr": 1e-4,
            "critic_lr": 1e-2,
            "all_actors_stopped": None,
            "actor_first_unchanged": [None] * 50,
        }
        for i in range(len(offsets))
    ]
    rewards = np.stack([reference + offset for offset in offsets])
    outputs = {name: np.zeros_like(rewards) for name in ("saturation", "preact_std", "preact_max", "output_mean")}
    layers = {f"accumulated_{side}_grad_norm_layers": np.ones((*rewards.shape, 3)) for side in ("actor", "critic")}
    return jaxmadrl.Run(definition=definition, lanes=lanes, metrics={"train_reward": rewards, **outputs, **layers})


def plain_window_means(values, window):
    return np.array([np.mean(values[start : start + window]) for start in range(0, len(values) - window + 1, window)])


def test_window_means_are_the_plain_means():
    values = np.random.default_rng(0).normal(size=(3, 250))
    for row, means in zip(values, reference_run.window_means(values, 100)):
        np.testing.assert_allclose(means, plain_window_means(row, 100))


@pytest.mark.parametrize(
    "offsets, inside", [((-500.0, 500.0), 20), ((100.0, 900.0), 0), ((-1.0, 1.0), 20), ((0.0, 0.0), 20)]
)
def test_the_reference_inside_or_outside_our_seeds(offsets, inside):
    run = run_around_the_reference(offsets)
    assert reference_run.reward_agreement(run, 1e-4, 1e-2) == (inside, 20)
    text = reference_run.describe_reference_run(run)
    assert f"every window in {int(inside == 20)} of 1 configurations" in text
    assert "| 0.0001 | 0.01 | -35.9k → -11.9k |" in text and text.count(f"| {inside}/20 |") == 1
    # The output statistics at episodes 10, 50, 100 and 200: the logged value next to ours.
    assert "| logged: output mean | ours |" in text
    logged = reference_run.logged_run()[1e-4, 1e-2]["tracked"][9]  # episode 100
    cells = ", ".join(f"{value:.3g}" for value in logged["actor_grad_layers"])
    assert f"| 0.0001 | 0.01 | 100 | {cells} | 1, 1, 1 |" in text
    assert [line.split(" | ")[2] for line in text.splitlines() if line.startswith("| 0.0001 | 0.01 | ")][2:6] == [
        "10",
        "50",
        "100",
        "200",
    ]


def test_a_run_too_short_or_of_other_configurations_is_refused():
    with pytest.raises(ValueError, match="at least one 100-episode window"):
        reference_run.shared_configs(run_around_the_reference((0.0,), episodes=60))
    definition = jaxmadrl.SweepDefinition.from_dict({"name": "x", "actor_lrs": [0.5], "critic_lrs": [0.5]})
    with pytest.raises(ValueError, match="no learning-rate configuration in common"):
        reference_run.shared_configs(jaxmadrl.Run(definition=definition, lanes=[], metrics={}))
