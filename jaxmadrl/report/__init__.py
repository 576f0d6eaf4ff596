"""What a finished run shows: the check of the paper's claims and the tables of a run
(``analysis``), network-size comparisons (``sizes``), the figures of one run (``plots``, drawn
with ``drawing``) and the figures that compare variants or runs (``comparison_plots``)."""
