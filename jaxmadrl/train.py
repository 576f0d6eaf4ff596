"""``python -m jaxmadrl.train``: train one learning-rate configuration: a sweep of one lane, with
its run folder.

The command is ``jaxmadrl.cli.train`` (its flags: ``python -m jaxmadrl.train --help``); this
module only starts it, with the signal handlers in place before anything is imported."""

if __name__ == "__main__":
    from jaxmadrl.cli.launch import launch

    launch("jaxmadrl.cli.train")
