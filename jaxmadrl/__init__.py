"""jaxmadrl: vectorised JAX Client-Master multi-agent deep RL for mobile-edge-computing offloading.

The public API (a notebook's way in; the command lines are built on it)::

    import jaxmadrl
    definition = jaxmadrl.SweepDefinition.from_dict(
        {"name": "small", "actor_lrs": [1e-3, 1e-1], "critic_lrs": [1e-3], "episodes": 50})
    run = jaxmadrl.run_sweep(definition, "runs/small")      # or run_sweep(None, DIR, resume=True)
    run = jaxmadrl.load_run("runs/small")                   # metrics (lanes, episodes, ...) + lane table
    train = jaxmadrl.make_train(jaxmadrl.TrainConfig())     # one run as a pure jittable function

- ``SweepDefinition``, ``load_definition``: what a sweep computes (``definition``);
- ``TrainConfig``, ``EnvParams``, ``HyperParams``: the static program, the environment and
  the traced hyperparameters (``config``, ``env``);
- ``run_sweep``, ``Progress``, ``RunFolderError``: running one in a run folder (``runs``);
  ``Shard``, ``merge_shards``: one shard of it, and joining the shards (``shards``);
- ``load_run``, ``Run``, ``RunError``: reading a finished run (``analysis``);
- ``make_train``: ``train(key, hparams) → (final state, metrics)`` (``trainers``; any domain);
- ``SettingError``: a bad setting, naming it.

Importing it asks XLA for deterministic GPU reductions and scatters (the numerics policy,
``jaxmadrl.numerics``) unless ``XLA_FLAGS`` already says either way or a JAX backend has
already started; set ``XLA_FLAGS=--xla_gpu_deterministic_ops=false`` to opt out.
"""

import os as _os

if "--xla_gpu_deterministic_ops" not in _os.environ.get("XLA_FLAGS", ""):
    from jaxmadrl import numerics as _numerics

    if not _numerics.backends_started():
        _numerics.request_deterministic_gpu_ops(True)

from jaxmadrl.analysis import Run, RunError, load_run  # noqa: E402  (after the numerics policy)
from jaxmadrl.config import HyperParams, TrainConfig  # noqa: E402
from jaxmadrl.definition import SweepDefinition, load_definition  # noqa: E402
from jaxmadrl.env import EnvParams  # noqa: E402
from jaxmadrl.limits import SettingError  # noqa: E402
from jaxmadrl.run_folder import RunFolderError  # noqa: E402
from jaxmadrl.runs import Progress, merge_shards, run_sweep  # noqa: E402
from jaxmadrl.shards import Shard  # noqa: E402
from jaxmadrl.trainers import make_train  # noqa: E402

__all__ = [
    "EnvParams",
    "HyperParams",
    "Progress",
    "Run",
    "RunError",
    "RunFolderError",
    "SettingError",
    "Shard",
    "SweepDefinition",
    "TrainConfig",
    "load_definition",
    "load_run",
    "make_train",
    "merge_shards",
    "run_sweep",
]
