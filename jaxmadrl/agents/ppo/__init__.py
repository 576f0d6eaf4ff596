"""PPO with the project's stacked actors as Gaussian policies (mean head unbounded or
tanh-bounded) and a centralised value network, on the environments of ``envs.domains``
(``learner``)."""
