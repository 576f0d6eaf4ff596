"""A sized sweep (its variants set actor_hidden / critic_hidden) as one sweep per size: the
faster way on the CPU, where every lane of the masked program costs what the widest size
costs (benchmarks/RESULTS.md, "Network sizes"). Each variant becomes a definition of its
own, its sizes flat, with the sweep's seeds, learning rates and settings; the runs go to
OUT/<variant>/ and ``python -m jaxmadrl.figures --size_study OUT/*`` reads them together.
A run already finished is kept; an interrupted one is resumed.

    python tools/size_ladder.py --sweep sizes-pendulum-td3 --out sweeps/runs/sizes-pendulum-td3
    python tools/size_ladder.py --sweep sizes-pendulum-ddpg --critic 16,16 --out sweeps/runs/asymmetric-ddpg

``--critic W,W``: the asymmetric pass — every variant's critic replaced by W,W (the smallest
symmetric size that solves), the actors kept. ``--smaller_actors``: of those, only the actors
no wider than W,W in any layer and not of its own size — the smallest solving actor is among
them (the actor of the critic's own size is the symmetric pass's), and they cost a fraction of
the wider ones.
"""

from __future__ import annotations

import argparse
import pathlib

import jaxmadrl
from jaxmadrl.study.definition import SweepDefinition, load_definition


def per_size(
    definition: SweepDefinition, critic: list[int] | None, smaller_actors: bool = False
) -> dict[str, SweepDefinition]:
    """Each variant's definition: the sweep's, one size, named <sweep>-<variant> (with
    ``critic``: that critic, and with ``smaller_actors`` only the actors no wider than it in any
    layer and not of its size)."""
    flat = definition.to_dict()
    variants = flat.pop("variants")
    runs = {}
    for name, settings in variants.items():
        sizes = {k: settings[k] for k in ("actor_hidden", "critic_hidden") if k in settings}
        traced = {k: v for k, v in settings.items() if k not in sizes}
        if critic is not None:
            sizes["critic_hidden"] = critic
            actor = tuple(sizes.get("actor_hidden", flat["actor_hidden"]))
            wider = len(actor) > len(critic) or any(a > c for a, c in zip(actor, critic))
            if smaller_actors and (actor == tuple(critic) or wider):
                continue
            name = f"actor-{'-'.join(map(str, sizes.get('actor_hidden', flat['actor_hidden'])))}"
        runs[name] = SweepDefinition.from_dict(
            {**flat, **sizes, "name": f"{definition.name}-{name}", "variants": {name: traced}}
        )
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", required=True, help="a named sweep or a sweep file whose variants set sizes")
    parser.add_argument("--out", required=True, type=pathlib.Path)
    parser.add_argument("--critic", default=None, help="the asymmetric pass: every critic at these widths")
    parser.add_argument("--smaller_actors", action="store_true", help="with --critic: only actors smaller than it")
    args = parser.parse_args()
    if args.smaller_actors and not args.critic:
        parser.error("--smaller_actors selects actors of the asymmetric pass: give --critic W,W")
    critic = [int(w) for w in args.critic.split(",")] if args.critic else None
    for name, definition in per_size(load_definition(args.sweep), critic, args.smaller_actors).items():
        folder = args.out / name
        if (folder / "summary.json").is_file():
            print(f"{name}: done already")
            continue
        resume = folder.is_dir()
        run = jaxmadrl.run_sweep(None if resume else definition, folder, resume=resume)
        rewards = [row["last_eval_reward"] for row in run.lanes]
        print(f"{name}: last evaluation {sum(rewards) / len(rewards):.1f} (mean of {len(rewards)} lanes)", flush=True)


if __name__ == "__main__":
    main()
