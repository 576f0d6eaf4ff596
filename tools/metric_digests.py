"""The bit-identity check of a refactor: tiny runs of every learner and domain, and the sha256
of every metric array, one line each, written to OUT.

    python tools/metric_digests.py before.txt   # at the old commit
    python tools/metric_digests.py after.txt    # at the new one
    diff before.txt after.txt                   # no output: every metric is bit-identical

The runs: DDPG, TD3, SAC and PPO on Pendulum; MADDPG on MPE simple_spread with a baseline and a
LayerNorm variant; MEC with a baseline and a softsign variant (the last chunk padded); MEC
with the sequential actor update; and a ``python -m jaxmadrl.train`` run. Digests are only
comparable on one machine (XLA:CPU rounds differently on other processors).
"""

import hashlib
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

import jaxmadrl

REPLAY = {"batch_size": 32, "replay_capacity": 2000, "eval_episodes": 1}
RUNS = {
    "ddpg-pendulum": {
        "domain": "Pendulum-v1",
        **REPLAY,
        "actor_lrs": [1e-3, 1e-2],
        "critic_lrs": [1e-3],
        "episodes": 7,
        "chunk": 3,
        "episodes_before_train": 2,
    },
    **{
        f"{learner}-pendulum": {
            "domain": "Pendulum-v1",
            "learner": learner,
            **REPLAY,
            "actor_lrs": [1e-3],
            "critic_lrs": [1e-3],
            "episodes": 5,
            "chunk": 2,
            "episodes_before_train": 1,
        }
        for learner in ("td3", "sac")
    },
    "ppo-pendulum": {
        "domain": "Pendulum-v1",
        "learner": "ppo",
        "actor_lrs": [1e-3],
        "critic_lrs": [1e-3],
        "episodes": 5,
        "chunk": 2,
        "rollout_envs": 2,
        "update_epochs": 2,
        "minibatches": 2,
        "eval_episodes": 1,
        "episodes_before_train": 1,
    },
    "mpe-variants": {
        "domain": "MPE_simple_spread_v3",
        **REPLAY,
        "actor_lrs": [1e-2],
        "critic_lrs": [1e-3],
        "episodes": 6,
        "chunk": 4,
        "episodes_before_train": 2,
        "variants": {"baseline": {}, "layernorm": {"layer_norm": 1}},
    },
    "mec-variants": {
        "actor_lrs": [1e-3, 1e-1],
        "critic_lrs": [1e-2],
        "n_agents": 3,
        "steps_per_episode": 3,
        "episodes": 13,
        "chunk": 5,
        "variants": {"baseline": {}, "softsign": {"output_activation": "softsign"}},
    },
    "mec-sequential": {
        "actor_lrs": [1e-1],
        "critic_lrs": [1e-2],
        "n_agents": 3,
        "steps_per_episode": 3,
        "episodes": 9,
        "chunk": 4,
        "actor_update": "sequential",
    },
}
TRAIN = ["--actor_lr=1e-2", "--critic_lr=1e-2", "--n_agents=3", "--steps_per_episode=3", "--episodes=8", "--chunk=3"]


def digests(name: str, folder: pathlib.Path) -> list[str]:
    with np.load(folder / "metrics.npz") as metrics:
        return [
            f"{name} {key} {metrics[key].shape} {hashlib.sha256(metrics[key].tobytes()).hexdigest()[:16]}"
            for key in sorted(metrics.files)
        ]


def main(out: pathlib.Path) -> None:
    root = pathlib.Path(tempfile.mkdtemp(prefix="metric-digests-"))
    lines = []
    for name, settings in RUNS.items():
        jaxmadrl.run_sweep(jaxmadrl.SweepDefinition.from_dict({"name": name, "seeds": 2, **settings}), root / name)
        lines += digests(name, root / name)
    command = [sys.executable, "-m", "jaxmadrl.train", *TRAIN, f"--out={root / 'train'}"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"the train run failed: {result.stderr.strip().splitlines()[-1]}")
    lines += digests("train", root / "train")
    out.write_text("\n".join(lines) + "\n")
    print(f"{len(lines)} metric arrays → {out} (runs in {root})")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tools/metric_digests.py OUT")
    main(pathlib.Path(sys.argv[1]))
