"""DDPG (one agent), MADDPG (several agents, one centralised critic) and TD3 (twin critics,
target smoothing, delayed actor) with the project's stacked tanh actors, as one
parameterised update, on the environments of ``envs.domains`` (``learner``)."""
