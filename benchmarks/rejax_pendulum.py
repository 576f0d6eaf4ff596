"""The peer side of the family check: rejax's TD3, SAC and PPO on gymnax Pendulum-v1 at the
settings of ``family_pendulum.py``, several seeds vmapped, with their final greedy returns
and speed. Prints one JSON line per algorithm.

rejax 0.1.3 unpacks gymnax's older 5-value ``step``, so this runs in an environment of its
own (jax 0.10.2, rejax 0.1.3, gymnax 0.0.9), not the project's. (Its TD3 with one critic,
which would be a DDPG, stops with a ValueError in rejax 0.1.3, so DDPG has no peer here.)

    python -m venv /tmp/rejax && /tmp/rejax/bin/pip install jax==0.10.2 rejax==0.1.3 gymnax==0.0.9
    /tmp/rejax/bin/python benchmarks/rejax_pendulum.py --algos=td3,sac --seeds=5 --steps=20000
    /tmp/rejax/bin/python benchmarks/rejax_pendulum.py --algos=ppo --seeds=5 --steps=48000

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


def relu() -> dict:
    """Network settings (rejax replaces the name by the function: a fresh dict each time);
    (64, 64) is rejax's default width."""
    return {"activation": "relu"}


OWN = {
    "td3": dict(
        exploration_noise=0.1,
        target_noise=0.2,
        target_noise_clip=0.5,
        policy_delay=2,
        polyak=0.995,
        actor_kwargs=relu(),
        critic_kwargs=relu(),
    ),
    "sac": dict(polyak=0.995, agent_kwargs=relu()),
    # 8 environments x 200 steps per iteration, 10 epochs of 32 minibatches, γ 0.9 (as tuned for Pendulum)
    "ppo": dict(
        num_envs=8,
        num_steps=200,
        num_epochs=10,
        num_minibatches=32,
        gamma=0.9,
        gae_lambda=0.95,
        clip_eps=0.2,
        ent_coef=0.0,
        learning_rate=1e-3,
        agent_kwargs=relu(),
    ),
}
OFF_POLICY = ("td3", "sac")


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


def plain_value_loss(algo_cls) -> None:
    """A diagnosis, not rejax as published: its PPO critic loss without the value clipping
    (rejax clips each value's change to ±clip_eps, 0.2 here, on Pendulum's unnormalised
    returns of about −100 to −1000), as a plain mean squared error."""

    def update_critic(self, ts, batch):
        def loss(params):
            return jnp.mean(jnp.square(self.critic.apply(params, batch.trajectories.obs) - batch.targets))

        return ts.replace(critic_ts=ts.critic_ts.apply_gradients(grads=jax.grad(loss)(ts.critic_ts.params)))

    algo_cls.update_critic = update_critic


def run(algo_name: str, seeds: int, steps: int, unclipped_value: bool = False) -> dict:
    import rejax

    algo_cls = rejax.get_algo(algo_name)
    if unclipped_value:
        plain_value_loss(algo_cls)
    config = dict(
        env="Pendulum-v1",
        total_timesteps=steps,
        eval_freq=steps,
        skip_initial_evaluation=True,
        **(COMMON if algo_name in OFF_POLICY else {}),
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
        "peer": "rejax 0.1.3" + (" (value loss unclipped)" if unclipped_value else ""),
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
    parser.add_argument("--unclipped_value", action="store_true", help="PPO: the diagnosis of plain_value_loss")
    args = parser.parse_args()
    if args.dynamics:
        print(json.dumps(dynamics()))
    else:
        for name in args.algos.split(","):
            print(json.dumps(run(name, args.seeds, args.steps, args.unclipped_value)), flush=True)
