"""jaxmadrl: vectorised JAX Client-Master multi-agent deep RL for mobile-edge-computing offloading.

The public API (a notebook's way in; the command lines are built on it)::

    import jaxmadrl
    definition = jaxmadrl.SweepDefinition.from_dict(
        {"name": "small", "actor_lrs": [1e-3, 1e-1], "critic_lrs": [1e-3], "episodes": 50})
    run = jaxmadrl.run_sweep(definition, "runs/small")      # or run_sweep(None, DIR, resume=True)
    run = jaxmadrl.load_run("runs/small")                   # metrics (lanes, episodes, ...) + lane table
    train = jaxmadrl.make_train(jaxmadrl.TrainConfig())     # one run as a pure jittable function

- ``SweepDefinition``, ``load_definition``: what a sweep computes (``study.definition``);
- ``TrainConfig``, ``EnvParams``, ``HyperParams``: the static program, the MEC environment
  and the traced hyperparameters (``agents.config``, ``envs.mec``, ``agents.hyperparams``);
- ``run_sweep``, ``merge_shards``: running one in a run folder, or its shards (``store.runs``),
  reporting a ``Progress`` (``store.progress``); ``Shard`` (``store.shards``);
  ``RunFolderError`` (``store.run_folder``);
- ``load_run``, ``Run``, ``RunError``: reading a finished run (``store.loading``);
  ``load_policy(run, lane)``: a lane's trained greedy policy, obs → actions, and
  ``evaluate(run, lane, episodes)``: its returns on fresh episodes (``store.policies``);
- ``reference_world``: the reference implementation's devices for any N (``envs.mec``);
  ``world="reference"`` trains on them;
- ``make_train``: ``train(key, hparams) → (final state, metrics)`` (``agents.trainers``; any domain);
- ``SettingError``: a bad setting, naming it (``core.limits``).

Importing it asks XLA for deterministic GPU reductions and scatters (the numerics policy,
``core.xla_flags``) unless ``XLA_FLAGS`` already says either way or a JAX backend has
already started; set ``XLA_FLAGS=--xla_gpu_deterministic_ops=false`` to opt out. The names
above are imported when first used: ``import jaxmadrl`` itself imports no JAX.
"""

import importlib as _importlib
import os as _os

if "--xla_gpu_deterministic_ops" not in _os.environ.get("XLA_FLAGS", ""):
    from jaxmadrl.core import xla_flags as _xla_flags

    if not _xla_flags.backends_started():
        _xla_flags.request_deterministic_gpu_ops(True)

# Each public name and the module that defines it.
_PUBLIC = {
    "EnvParams": "jaxmadrl.envs.mec",
    "HyperParams": "jaxmadrl.agents.hyperparams",
    "Progress": "jaxmadrl.store.progress",
    "Run": "jaxmadrl.store.loading",
    "RunError": "jaxmadrl.store.loading",
    "RunFolderError": "jaxmadrl.store.run_folder",
    "SettingError": "jaxmadrl.core.limits",
    "Shard": "jaxmadrl.store.shards",
    "SweepDefinition": "jaxmadrl.study.definition",
    "TrainConfig": "jaxmadrl.agents.config",
    "load_definition": "jaxmadrl.study.definition",
    "evaluate": "jaxmadrl.store.policies",
    "load_policy": "jaxmadrl.store.policies",
    "load_run": "jaxmadrl.store.loading",
    "make_train": "jaxmadrl.agents.trainers",
    "merge_shards": "jaxmadrl.store.runs",
    "reference_world": "jaxmadrl.envs.mec",
    "run_sweep": "jaxmadrl.store.runs",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'jaxmadrl' has no attribute {name!r}")
    value = getattr(_importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *__all__})
