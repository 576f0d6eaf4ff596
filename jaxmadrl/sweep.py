"""``python -m jaxmadrl.sweep``: run a grid of configurations as one compiled program, with
progress, checkpoints and resume.

The command is ``jaxmadrl.cli.sweep`` (its flags: ``python -m jaxmadrl.sweep --help``); this
module only starts it, with the signal handlers in place before anything is imported."""

if __name__ == "__main__":
    from jaxmadrl.cli.launch import launch

    launch("jaxmadrl.cli.sweep")
