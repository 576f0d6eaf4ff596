"""Environment records: what decides float results, and how a run's records read."""

from jaxmadrl.store import provenance


def record(**changes):
    base = provenance.environment_record(
        matmul_precision="highest", lanes_per_call=1, devices_per_call=1, workers=2, activations=["tanh"]
    )
    return {**base, **changes}


def test_record_names_code_versions_machine_and_numerics():
    first = record()
    assert set(provenance.NUMERICS_FIELDS) <= set(first)
    assert first["versions"]["python"].count(".") == 2 and first["cpu"]
    # The environment packages of the test extra, whose versions decide the foreign domains.
    assert first["versions"]["gymnax"].startswith("1.") and first["versions"]["jaxmarl"].startswith("0.")
    assert "brax" not in first["versions"] or first["versions"]["brax"]  # recorded only where installed
    assert first["saturation_edge"]["tanh"][1] > 7


def test_only_what_decides_float_results_counts_as_a_difference():
    first = record()
    assert provenance.numerics_differences(first, record(workers=1, recorded_at="later", first_episode=40)) == []
    flags = record(xla_flags="--xla_a=1 --xla_b=2")
    assert provenance.numerics_differences(flags, record(xla_flags="--xla_b=2 --xla_a=1")) == []
    assert provenance.describe_differences(first, record(lanes_per_call=4)) == "lanes_per_call 1 → 4"
    changed = record(versions={**first["versions"], "jax": "0.0.1"}, cpu="another")
    assert provenance.describe_differences(first, changed) == f"versions, cpu {first['cpu']} → another"


def test_describe_shows_the_first_session_and_resumes_that_differ():
    first = record()
    same = record(first_episode=100)
    other = record(first_episode=200, lanes_per_call=4)
    text = provenance.describe([first, same, other]).splitlines()
    assert len(text) == 2 and text[0].startswith("Environment: commit ")
    assert text[1].startswith("Resumed at episode 200 with other numerics (lanes_per_call): ")
    assert provenance.describe(None).startswith("Environment: not recorded")
