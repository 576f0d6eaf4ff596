"""What a finished run shows: the check of the paper's claims and the tables of a run
(``analysis``), network-size comparisons (``sizes``), and its figures (``plots``, drawn
with ``drawing``)."""
