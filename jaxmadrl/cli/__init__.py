"""The command lines, thin front ends of the API: ``sweep``, ``train``, ``figures``, what
they share (``common``: the flags of settings and runs, running one as a command; ``failing``:
bad input as one line and an exit code) and how each is started (``launch``).
``python -m jaxmadrl.sweep`` (and ``.train``, ``.figures``) start them."""
