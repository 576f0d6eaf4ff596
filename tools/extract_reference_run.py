"""Extracts the reference implementation's logged run into ``jaxmadrl/data/reference_logged_run.json``.

    python tools/extract_reference_run.py /path/to/gradient_asymetry_AND_activation_saturation

The source is ``ColabExperiments/original_experiment/extracted_results/gradient_asymmetry_results``
of that repository: one ``results.json`` (rewards per episode, stopping episodes) and one
``tracking_data.json`` (every 10 episodes: accumulated gradient norms per layer, actor
pre-activation and output statistics) per learning-rate configuration. Rewards are kept to
0.1, the tracked values to 6 significant digits; nothing else is changed.
"""

import json
import pathlib
import sys

RESULTS = "ColabExperiments/original_experiment/extracted_results/gradient_asymmetry_results"
OUT = pathlib.Path(__file__).resolve().parent.parent / "jaxmadrl" / "data" / "reference_logged_run.json"
LAYERS = ("fc1", "fc2", "fc3")


def rounded(value: float) -> float:
    return float(f"{value:.6g}")


def tracked(tracking: dict) -> list[dict]:
    """One row per logged episode: gradients, pre-activations and outputs side by side."""
    activations = {row["episode"]: row for row in tracking["activation_history"]}
    rows = []
    for grad in tracking["gradient_history"]:
        act = activations[grad["episode"]]
        output = act["actor_activations_sample"]["fc3"]
        rows.append(
            {
                "episode": grad["episode"],
                "actor_grad": rounded(grad["actor_grad"]),
                "critic_grad": rounded(grad["critic_grad"]),
                "actor_grad_layers": [rounded(grad["actor_per_layer"][name]) for name in LAYERS],
                "critic_grad_layers": [rounded(grad["critic_per_layer"][name]) for name in LAYERS],
                **{key: rounded(act[f"{key}_preact"]) for key in ("mean", "std", "min", "max")},
                "saturation": rounded(act["avg_actor_output_saturation"]),
                **{f"output_{key}": rounded(output[key]) for key in ("min", "max", "mean")},
            }
        )
    return rows


def configuration(folder: pathlib.Path) -> dict:
    results = json.loads((folder / "results.json").read_text())
    return {
        "actor_lr": results["actor_lr"],
        "critic_lr": results["critic_lr"],
        "all_actors_stopped": results["stopping_episode"],
        "episodes_run": results["total_episodes"],
        "actor_stopped": results["per_actor_stopped"],
        "train_reward": [round(value, 1) for value in results["all_rewards"]],
        "tracked": tracked(json.loads((folder / "tracking_data.json").read_text())),
    }


def main(repository: str) -> None:
    folders = sorted(pathlib.Path(repository, RESULTS).glob("actor_*_critic_*_run_0"))
    configurations = sorted(
        (configuration(folder) for folder in folders), key=lambda c: (c["actor_lr"], c["critic_lr"])
    )
    document = {
        "source": f"TesfayZ/gradient_asymetry_AND_activation_saturation, {RESULTS}: the reference's logged run, "
        "one seed per configuration, on its one world (MecEnv(50, env_seed=42)). all_actors_stopped: "
        "episode at which every actor's weights stopped changing (the run went on for 101 more episodes, "
        "episodes_run in all; 2000 = never); actor_stopped: each actor's (null = never); train_reward: "
        "episode sums; tracked: every 10 episodes, the accumulated gradient norms (total and per layer "
        "fc1, fc2, fc3), the actors' output pre-activation statistics, saturation (mean of |tanh z| > 0.9 "
        "over the pre-activations buffered since the last log) and output min/max/mean.",
        "configurations": configurations,
    }
    OUT.write_text(json.dumps(document, separators=(",", ":")) + "\n")
    print(f"wrote {len(configurations)} configurations to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
