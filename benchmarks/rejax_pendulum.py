"""The peer side of the family check: rejax's TD3, SAC and PPO on gymnax Pendulum-v1 at the
settings of ``family_pendulum.py``, several seeds vmapped, with their final greedy returns
and speed. Prints one JSON line per algorithm.

rejax 0.1.3 unpacks gymnax's older 5-value ``step``, so this runs in an environment of its
own (jax 0.10.2, rejax 0.1.3, gymnax 0.0.9), not the project's:

    python -m venv /tmp/rejax && /tmp/rejax/bin/pip install jax==0.10.2 rejax==0.1.3 gymnax==0.0.9
    /tmp/rejax/bin/python benchmarks/rejax_pendulum.py --algos=td3,sac --seeds=5 --steps=20000

``--dynamics`` instead prints a Pendulum trajectory (observations and rewards) under fixed
actions from fixed states, which ``family_pendulum.py --check_dynamics`` compares with
gymnax 1.0's.
"""

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

# The matched settings (family_pendulum.py sets the same numbers for our learners)
COMMON = dict(learning_rate=1e-3, gamma=0.99, batch_size=256, buffer_size=20_000, fill_buffer=2_000)
RELU = {"activation": "relu"}  # (64, 64) is rejax's default width
OWN = {
    "td3": dict(
        exploration_noise=0.1,
        target_noise=0.2,
        target_noise_clip=0.5,
        policy_delay=2,
        polyak=0.995,
        actor_kwargs=RELU,
        critic_kwargs=RELU,
    ),
    "sac": dict(polyak=0.995, agent_kwargs=RELU),
}


def dynamics() -> dict:
    """Observations and rewards of 20 steps from three fixed states under fixed actions."""
    import gymnax
    from gymnax.environments.classic_control.pendulum import EnvState

    env, params = gymnax.make("Pendulum-v1")
    out = {}
    for theta, theta_dot in ((0.5, -1.0), (3.0, 0.0), (-2.0, 4.0)):
        state = EnvState(theta=jnp.float32(theta), theta_dot=jnp.float32(theta_dot), last_u=jnp.float32(0), time=0)
        rows = []
        for step in range(20):
            action = jnp.array([2.0 * np.sin(step)], jnp.float32)
            obs, state, reward, _, _ = env.step_env(jax.random.key(0), state, action, params)
            rows.append([*np.asarray(obs).tolist(), float(reward)])
        out[f"{theta},{theta_dot}"] = rows
    return out


def run(algo_name: str, seeds: int, steps: int) -> dict:
    import rejax

    algo_cls = rejax.get_algo(algo_name)
    config = dict(
        env="Pendulum-v1",
        total_timesteps=steps,
        eval_freq=steps,
        skip_initial_evaluation=True,
        **COMMON,
        **OWN[algo_name],
    )
    algo = algo_cls.create(**config)
    train = jax.jit(jax.vmap(algo.train))
    keys = jax.random.split(jax.random.key(0), seeds)
    start = time.perf_counter()
    compiled = train.lower(keys).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    _, (_, returns) = jax.block_until_ready(compiled(keys))
    wall = time.perf_counter() - start
    final = np.asarray(returns)[:, -1].mean(axis=-1)  # each seed's mean over rejax's 128 evaluation episodes
    return {
        "peer": "rejax 0.1.3",
        "algo": algo_name,
        "seeds": seeds,
        "steps": steps,
        "final_return_mean": float(final.mean()),
        "final_return_std": float(final.std()),
        "final_returns": final.round(1).tolist(),
        "compile_s": round(compile_s, 1),
        "wall_s": round(wall, 1),
        "env_steps_per_s": round(seeds * steps / wall),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algos", default="td3,sac")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--dynamics", action="store_true")
    args = parser.parse_args()
    if args.dynamics:
        print(json.dumps(dynamics()))
    else:
        for name in args.algos.split(","):
            print(json.dumps(run(name, args.seeds, args.steps)), flush=True)
