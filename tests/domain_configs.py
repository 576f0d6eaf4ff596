"""Small programs of the other domains, shared by the tests of the domains and of DDPG."""

from jaxmadrl.agents.config import TrainConfig

SMALL = dict(actor_hidden=(8,), critic_hidden=(16,), batch_size=8, replay_capacity=1000, episodes_before_train=1)


# The networks and settings of jaxmadrl/sweeps/pendulum.json
PENDULUM = TrainConfig(
    domain="Pendulum-v1",
    actor_hidden=(64, 32),
    critic_hidden=(128, 128),
    batch_size=128,
    replay_capacity=4000,
    episodes_before_train=5,
    epsilon_start=0.1,
    epsilon_end=0.1,
)


def small_config(domain, **changes):
    return TrainConfig(domain=domain, **{**SMALL, "eval_every": 2, "eval_episodes": 1, **changes})
