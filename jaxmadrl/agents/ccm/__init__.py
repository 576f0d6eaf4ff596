"""CCM-MADRL in the MEC world: the master's selection of offloading clients
(``selection``), acting (``rollout``), the critic and actor updates (``learner``) and the
training program of episodes (``training``)."""
