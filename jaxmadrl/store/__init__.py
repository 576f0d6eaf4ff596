"""Where a study lives on disk: the run folder and its files (``run_folder``), checkpoints
(``checkpoints``), shards (``shards``), provenance (``provenance``), running a sweep in a
folder (``runs``) and reading a finished run (``loading``)."""
