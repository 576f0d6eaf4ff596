"""Comparing results of two *different* compiled programs: lane widths, a vmapped lane and
an unbatched run, one device and several, chunked and whole scans.

They round differently, and training amplifies rounding: Adam moves each weight by about
±lr whatever its gradient's size, so a gradient component near zero that changes sign
changes the weight by 2·lr, and a discrete decision (offload or not, the master's arg-max)
that flips changes a reward by a whole task's cost. What is defined to agree is
- exact invariants over the whole run: which episodes trained and evaluated, epsilon;
- the episodes acted with the initial weights and the first train step on them
  (``AGREEING_EPISODES``), up to the rounding of one forward and backward pass.

Measured with the tests' tiny grid (3 agents, 8 seeds × 2 actor × 2 critic LRs, widths 1,
4 and 32; Intel Xeon with AVX-512, the same with --xla_cpu_max_isa=AVX2): the largest
relative difference over every metric and lane is 0 in episode 0, 4e-7 in episode 1,
9e-7 in episode 2, 2e-5 in episode 3, 1e-3 by episode 11 and 3 (chaos) by episode 17.
``PROGRAM_RTOL`` = 1e-5 is 25× the measured episode-1 difference.

A DDPG episode of another domain makes one update per environment step, so its first
trained episode holds many updates: measured with the MADDPG lane test (tests/test_domains.py,
26 updates), the largest relative difference in that episode was 1.6e-5; ``MANY_UPDATES_RTOL``
= 5e-4 is 30× that.
"""

import numpy as np

AGREEING_EPISODES = 2
PROGRAM_RTOL = 1e-5
MANY_UPDATES_RTOL = 5e-4
# A mean of values that nearly cancel (the pre-activations under LayerNorm: ~1e-9) is
# compared against the size of what it averages, the rounding of its sum.
SCALE_OF = {"preact_mean": ("preact_min", "preact_max")}


def assert_programs_agree(
    metrics: dict, expected: dict, episode_axis: int = 0, first_episode: int = 0, rtol: float = PROGRAM_RTOL
):
    """Asserts what two programs' per-episode metrics are defined to share: the exact
    invariants over all episodes, and every metric in the
    ``AGREEING_EPISODES`` episodes from ``first_episode`` on (which act with the same weights:
    the start of a run, or of a resume from a checkpoint) to ``rtol``."""
    assert metrics.keys() == expected.keys()
    np.testing.assert_array_equal(metrics["trained"], expected["trained"])
    np.testing.assert_array_equal(np.isfinite(metrics["eval_reward"]), np.isfinite(expected["eval_reward"]))
    if "epsilon" in metrics:  # a function of the episode index alone: never amplified (SAC has none)
        np.testing.assert_allclose(metrics["epsilon"], expected["epsilon"], rtol=rtol)
    window = slice(first_episode, first_episode + AGREEING_EPISODES)

    def in_window(values):
        return np.moveaxis(values, episode_axis, 0)[window]

    for name in metrics:
        if metrics[name].dtype != bool:
            scale = max(
                (np.nanmax(np.abs(in_window(expected[other])), initial=0.0) for other in SCALE_OF.get(name, ())),
                default=0.0,
            )
            np.testing.assert_allclose(
                in_window(metrics[name]),
                in_window(expected[name]),
                rtol=rtol,
                atol=max(rtol * scale, 1e-12),
                err_msg=name,
            )
