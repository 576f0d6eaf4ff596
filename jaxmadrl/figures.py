"""``python -m jaxmadrl.figures``: regenerate the paper's figures, the check of its claims and
the per-configuration table from a finished sweep run.

The command is ``jaxmadrl.cli.figures`` (its flags: ``python -m jaxmadrl.figures --help``); this
module only starts it, with the signal handlers in place before anything is imported."""

if __name__ == "__main__":
    from jaxmadrl.cli.launch import launch

    launch("jaxmadrl.cli.figures")
