"""What a finished run shows: the check of the paper's claims and the tables of a run
(``analysis``), network-size comparisons (``sizes``), the heuristics on a run's worlds
(``baselines``) and its reference's logged run (``reference_run``); the figures as functions
that draw and return a Figure — one-panel ones (``plots``), those over episodes as small
multiples (``over_time``), those comparing variants or runs (``comparison_plots``), what they
share (``drawing``) — and every file of a run with the writing of them (``catalogue``)."""
