"""``python -m jaxmadrl.evaluate --run DIR --lane K --episodes N``: a finished run's trained
greedy policy of one lane on fresh episodes.

The command is ``jaxmadrl.cli.evaluate`` (its flags: ``python -m jaxmadrl.evaluate --help``);
this module only starts it, with the signal handlers in place before anything is imported."""

if __name__ == "__main__":
    from jaxmadrl.cli.launch import launch

    launch("jaxmadrl.cli.evaluate")
