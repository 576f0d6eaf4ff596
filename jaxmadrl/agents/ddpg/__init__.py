"""DDPG (one agent) and MADDPG (several agents, one centralised critic) with the project's
stacked tanh actors, on the environments of ``envs.domains`` (``learner``)."""
