"""The learners, and what every learner shares: the static program and traced
hyperparameters (``config``), networks, optimisers, normalisation, replay, the instruments
(``diagnostics``: gradient norms, pre-activations, saturation, the weight-change tracker),
the trainer scaffold (``scaffold``) and the choice of learner by domain (``trainers``).
One room per learner: ``ccm`` (CCM-MADRL on MEC), ``ddpg`` (DDPG / MADDPG and TD3
elsewhere), ``sac``, ``ppo``; ``critics`` and ``off_policy`` are what the replay learners
share."""
