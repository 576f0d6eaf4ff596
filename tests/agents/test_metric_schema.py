"""The metric schema is the one list of metrics: what each learner records, what the
package reads and what the README shows."""

import re

import jax.numpy as jnp
import numpy as np
import pytest

from jaxmadrl.agents import metric_schema
from jaxmadrl.core import paths

RESULTS = paths.REPOSITORY_DIR / "sweeps" / "results"


@pytest.mark.parametrize(
    "learner, run", [(metric_schema.CCM, "grad-norm-definitions/all16-3seeds"), (metric_schema.DDPG, "pendulum")]
)
def test_a_learners_runs_hold_exactly_its_metrics_with_their_shapes(learner, run):
    added_since = {  # recorded from 2026-12-02, after these runs
        "output_mean",
        "output_min",
        "output_max",
        "output_head_mean",
        "accumulated_actor_grad_norm_layers",
        "accumulated_critic_grad_norm_layers",
    }
    with np.load(RESULTS / run / "metrics.npz") as saved:
        assert sorted(saved.files) == sorted(set(metric_schema.names(learner)) - added_since)
        for name in saved.files:
            assert saved[name].ndim == 2 + len(metric_schema.METRICS[name].shape), name


def test_checked_refuses_a_metric_missing_or_not_in_the_schema():
    values = {name: jnp.zeros((3,) * len(metric_schema.METRICS[name].shape)) for name in metric_schema.names("ddpg")}
    assert list(metric_schema.checked("ddpg", values)) == list(metric_schema.names("ddpg"))
    with pytest.raises(ValueError, match=r"missing \['accumulated_actor_grad_norm'"):
        metric_schema.checked("ccm", values)
    with pytest.raises(ValueError, match=r"not in it \['invented'\]"):
        metric_schema.checked("ddpg", {**values, "invented": jnp.zeros(())})
    with pytest.raises(AssertionError, match="actor_max_delta"):
        metric_schema.checked("ddpg", {**values, "actor_max_delta": jnp.zeros(())})  # (N,) per episode


def test_every_metric_the_package_reads_is_in_the_schema():
    read = set()
    for source in paths.PACKAGE_DIR.rglob("*.py"):
        read |= set(re.findall(r"metrics\[\"(\w+)\"\]", source.read_text()))
    assert read and read <= set(metric_schema.METRICS)


def test_the_readme_shows_the_schema():
    readme = (paths.REPOSITORY_DIR / "README.md").read_text()
    assert metric_schema.markdown_table() in readme
    assert len(metric_schema.METRICS) == len(metric_schema.SCHEMA)  # one entry per name
