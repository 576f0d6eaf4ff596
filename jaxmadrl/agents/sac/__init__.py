"""Soft actor-critic with the project's stacked actors as tanh-squashed Gaussian policies,
twin centralised critics and an entropy temperature fixed or learned (``learner``)."""
