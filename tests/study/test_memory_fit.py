"""Fitting lanes to an accelerator's memory, with a fake device limit on the CPU: the widest
width whose estimate fits is chosen and recorded, a given width that does not fit is
refused in one line, and a fitted run computes what the same width given by hand does."""

import json

import jax
import numpy as np
import pytest

import jaxmadrl
from jaxmadrl.core.limits import SettingError
from jaxmadrl.store import lane_blocks
from jaxmadrl.study import grid, memory_fit

TINY = {"actor_lrs": [1e-3, 1e-1], "critic_lrs": [1e-2], "n_agents": 3, "steps_per_episode": 3}
TINY.update(episodes=8, chunk=4)  # the tiny sweep's program (tests/cli_helpers.TINY_SWEEP), 2 of its lanes


def test_the_widest_width_that_fits_is_chosen():
    compiled = []

    def program_bytes_of(width):
        compiled.append(width)
        return 50 * width  # temporaries grow with the lanes of a call

    fit = memory_fit.widest_fit(
        [8, 4, 2, 1], 8, 100, 1000, program_bytes_of, devices_per_call=lambda w: 1, calls_at_once=lambda w: 1
    )
    # budget 900 (HEADROOM 0.9): width 8 needs 800 + 400, width 4 800 + 200, width 2 800 + 100
    assert memory_fit.HEADROOM == 0.9
    assert (fit.lanes_per_call, fit.state_bytes, fit.program_bytes, fit.total) == (2, 800, 100, 900)
    assert compiled == [8, 4, 2]
    compiled.clear()
    with pytest.raises(SettingError, match="the 8 lanes' states 0.00 GiB"):  # states of 8 × 200 > 900
        memory_fit.widest_fit([8, 4, 2, 1], 8, 200, 1000, program_bytes_of, lambda w: 1, lambda w: 1)
    assert compiled == []  # nothing compiled where the states alone cannot fit


def test_calls_at_once_and_devices_enter_the_estimate():
    fit = memory_fit.widest_fit(
        [4, 2, 1],
        4,
        100,
        10_000,
        lambda w: 1000 * w,
        devices_per_call=lambda w: 2 if w % 2 == 0 else 1,
        calls_at_once=lambda w: 4 // w,
    )
    # width 4 on 2 devices: states 400 / 2 + 1 call × 4000 = 4200 ≤ 9000
    assert (fit.lanes_per_call, fit.state_bytes, fit.calls_at_once, fit.total) == (4, 200, 1, 4200)


def test_nothing_that_fits_is_one_setting_error_naming_lanes_per_call():
    with pytest.raises(SettingError) as refused:
        memory_fit.widest_fit([2, 1], 2, 600, 1000, lambda w: 10 * w, lambda w: 1, lambda w: 1)
    assert refused.value.setting == "lanes_per_call" and "--lanes_per_call" in str(refused.value)
    assert "the 2 lanes' states" in str(refused.value) and "\n" not in str(refused.value)


def exact_totals(definition, widths, workers) -> dict[int, int]:
    """The estimate of each width with ``workers`` calls at once at most, from its compiled
    program (the device's limit made huge)."""
    program = grid.make_grid(definition.train_config("highest"))
    keys, hparams = definition.lane_keys(), definition.hyperparams()
    clocks = lane_blocks.clocks(definition, 0, definition.chunk)
    return {w: memory_fit.fit_lanes(program, keys, hparams, clocks, w, None, workers)[0].total for w in widths}


@pytest.mark.slow  # it compiles the tiny program at two widths (1 lane, the tiny sweep's, and 2)
def test_a_fake_device_limit_narrows_the_default_width_and_the_run_records_it(tmp_path, monkeypatch):
    definition = jaxmadrl.SweepDefinition.from_dict({"name": "fit", **TINY})
    monkeypatch.setattr(memory_fit, "device_memory_limit", lambda device: 2**40)
    totals = exact_totals(definition, (2, 1), workers=1)  # one call at a time: the narrower needs less
    assert totals[2] > totals[1]
    limit = int((totals[1] + totals[2]) / 2 / memory_fit.HEADROOM)  # width 1 fits, 2 does not
    monkeypatch.setattr(memory_fit, "device_memory_limit", lambda device: limit)
    monkeypatch.setattr(memory_fit, "fits_to_memory", lambda: True)  # as off the CPU: the default is fitted
    fitted = jaxmadrl.run_sweep(definition, tmp_path / "fitted", workers=1)
    record = json.loads((tmp_path / "fitted" / "environment.json").read_text())[-1]
    assert record["lanes_per_call"] == 1 and record["memory"]["lanes_per_call"] == 1
    assert record["memory"]["device_limit"] == limit and record["memory"]["calls_at_once"] == 1
    by_hand = jaxmadrl.run_sweep(definition, tmp_path / "by-hand", lanes_per_call=1, workers=1)
    for name, values in fitted.metrics.items():  # the program compiled for the shapes is the one run by hand
        np.testing.assert_array_equal(values, by_hand.metrics[name], err_msg=name)
    with pytest.raises(SettingError, match="lanes_per_call no width of \\[2\\] fits"):
        jaxmadrl.run_sweep(definition, tmp_path / "too-wide", lanes_per_call=2, workers=1)
    monkeypatch.setattr(memory_fit, "device_memory_limit", lambda device: 1000)  # below the states alone
    with pytest.raises(SettingError, match="lanes_per_call no width of \\[2, 1\\] fits"):
        jaxmadrl.run_sweep(definition, tmp_path / "nothing-fits")
    assert not (tmp_path / "too-wide").exists() and not (tmp_path / "nothing-fits").exists()


def test_the_cpu_reports_no_limit_so_its_width_is_never_fitted():
    assert memory_fit.device_memory_limit(jax.devices()[0]) is None
    assert not memory_fit.fits_to_memory()
