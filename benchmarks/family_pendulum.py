"""Our side of the family check: jaxmadrl's DDPG, TD3, SAC and PPO on gymnax Pendulum-v1 at the settings
rejax is run with in ``rejax_pendulum.py`` (ReLU (64, 64) actor and critics, Adam 1e-3,
γ 0.99, batch 256, replay 20,000 after 2,000 random steps, soft targets τ 0.005, one update
per step; TD3: exploration noise 0.1, smoothing 0.2 clipped at 0.5, policy delay 2; SAC:
α learned from 1 at the same rate; PPO: γ 0.9, 8 environments × 200 steps, 10 epochs of 32
minibatches), several seeds as lanes of one program. Prints one JSON
line per learner: each seed's final greedy return (the mean of 10 evaluation episodes) and
the speed. ``--instruments=off`` times the same program returning only the rewards: JAX and
XLA then drop every instrument that nothing reads (gradient norms, pre-activation and
output statistics, the per-episode update metrics); the weight-change tracker stays, as the
state carries it. ``both`` runs each learner with and without them, one after the other.

    python benchmarks/family_pendulum.py --learners=ddpg,td3,sac --seeds=5 --steps=20000
    python benchmarks/family_pendulum.py --learners=ppo --seeds=5 --steps=48000
    python benchmarks/family_pendulum.py --check_dynamics=rejax_dynamics.json

``--check_dynamics`` compares the Pendulum steps that ``rejax_pendulum.py --dynamics``
printed (gymnax 0.0.9) with gymnax 1.0's from the same states and actions.
"""

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxmadrl import SweepDefinition
from jaxmadrl.agents.scaffold import episode_clock
from jaxmadrl.study import grid

EPISODE_STEPS = 200
SETTINGS = dict(
    domain="Pendulum-v1",
    actor_hidden=[64, 64],
    critic_hidden=[64, 64],
    batch_size=256,
    replay_capacity=20_000,
    episodes_before_train=10,
    tau=0.005,
    epsilon_start=0.1,
    epsilon_end=0.1,
    eval_episodes=10,
)
OWN = {"ddpg": {}, "td3": {}, "sac": {"temperature_lr": 1e-3}, "ppo": {"gamma": 0.9}}
# PPO: 8 environments x 200 steps per iteration, 10 epochs of 32 minibatches, from the first episode
PPO_SETTINGS = dict(rollout_envs=8, update_epochs=10, minibatches=32, episodes_before_train=0)


REWARDS = ("train_reward", "eval_reward")  # what a program with its instruments off returns


def run(learner: str, seeds: int, steps: int, instruments: bool = True) -> dict:
    settings = {**SETTINGS, **PPO_SETTINGS} if learner == "ppo" else SETTINGS
    episodes = steps // (EPISODE_STEPS * settings.get("rollout_envs", 1))
    definition = SweepDefinition.from_dict(
        dict(
            name=f"family-{learner}",
            learner=learner,
            actor_lrs=[1e-3],
            critic_lrs=[1e-3],
            seeds=seeds,
            episodes=episodes,
            eval_every=episodes,
            chunk=episodes,
            mitigations=OWN[learner],
            **settings,
        )
    )
    program = grid.make_grid(definition.train_config())
    run_chunk = program.run_chunk
    if not instruments:
        run_chunk = lambda *args: (lambda state, metrics: (state, {k: metrics[k] for k in REWARDS}))(
            *program.run_chunk(*args)
        )
    hparams, keys = definition.hyperparams(), definition.lane_keys()
    episodes_axis = episode_clock(definition.train, jnp.arange(episodes))
    start = time.perf_counter()
    init = jax.jit(program.init).lower(keys, hparams).compile()
    chunk = jax.jit(run_chunk).lower(init(keys, hparams), episodes_axis, hparams).compile()
    compile_s = time.perf_counter() - start
    state = jax.block_until_ready(init(keys, hparams))
    start = time.perf_counter()
    _, metrics = jax.block_until_ready(chunk(state, episodes_axis, hparams))
    wall = time.perf_counter() - start
    final = np.asarray(metrics["eval_reward"])[-1]  # (lanes,): one per seed
    return {
        "peer": "jaxmadrl",
        "algo": learner,
        "instruments": "on" if instruments else "off",
        "seeds": seeds,
        "steps": steps,
        "final_return_mean": float(final.mean()),
        "final_return_std": float(final.std()),
        "final_returns": final.round(1).tolist(),
        "compile_s": round(compile_s, 1),
        "wall_s": round(wall, 1),
        "env_steps_per_s": round(seeds * steps / wall),
    }


def check_dynamics(path: str) -> dict:
    """The largest difference between gymnax 1.0's Pendulum steps and those in ``path``."""
    import gymnax
    from gymnax.environments.classic_control.pendulum import EnvState

    env, params = gymnax.make("Pendulum-v1")
    recorded = json.loads(open(path).read())
    largest = 0.0
    for start, rows in recorded.items():
        theta, theta_dot = (float(v) for v in start.split(","))
        state = EnvState(theta=jnp.float32(theta), theta_dot=jnp.float32(theta_dot), last_u=jnp.float32(0), time=0)
        for step, row in enumerate(rows):
            action = jnp.array([2.0 * np.sin(step)], jnp.float32)
            obs, state, reward, _, _ = env.step_env(jax.random.key(0), state, action, params)
            ours = np.array([*np.asarray(obs).tolist(), float(reward)])
            largest = max(largest, float(np.max(np.abs(ours - np.array(row)))))
    return {
        "dynamics": "gymnax 1.0 vs 0.0.9 Pendulum-v1",
        "steps": sum(map(len, recorded.values())),
        "max_abs_diff": largest,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", default="ddpg,td3,sac")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--check_dynamics", default=None)
    parser.add_argument("--instruments", choices=("on", "off", "both"), default="on")
    args = parser.parse_args()
    if args.check_dynamics:
        print(json.dumps(check_dynamics(args.check_dynamics)))
    else:
        for name in args.learners.split(","):
            for instruments in {"on": [True], "off": [False], "both": [True, False]}[args.instruments]:
                print(json.dumps(run(name, args.seeds, args.steps, instruments)), flush=True)
