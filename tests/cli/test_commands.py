"""Every command ends bad input in one line naming the input at fault, and exit 2."""

import json

import pytest
from cli_helpers import TINY_SWEEP, one_line_error, run_in_process

pytestmark = pytest.mark.slow  # every test here runs a command whole


@pytest.mark.parametrize("module", ["jaxmadrl.sweep", "jaxmadrl.train"])
def test_an_out_path_that_cannot_be_a_folder_is_one_line(tmp_path, module):
    for too_long in (tmp_path / ("x" * 300) / "run", tmp_path / "new" / ("x" * 300)):
        one_line_error(run_in_process(module, *TINY_SWEEP[3:], f"--out={too_long}"), 2, "--out", "File name too long")
        assert not (tmp_path / "new").exists()
    a_file = tmp_path / "file"
    a_file.write_text("")
    one_line_error(run_in_process(module, *TINY_SWEEP[3:], f"--out={a_file / 'run'}"), 2, f"{a_file} is a file")


def test_a_sweep_name_that_cannot_name_a_folder_is_refused(tmp_path):
    study = tmp_path / "study.json"
    study.write_text(json.dumps({"name": "a\u0000b", "actor_lrs": [1e-3], "critic_lrs": [1e-3]}))
    result = run_in_process("jaxmadrl.sweep", f"--sweep={study}", f"--out={tmp_path / 'run'}")
    one_line_error(result, 2, '"name" must be at most 200 letters')
    assert not (tmp_path / "run").exists()


def test_evaluate_plays_a_lanes_trained_policy_or_says_in_one_line_why_not(tiny_sweep, tmp_path):
    run_dir, _ = tiny_sweep
    result = run_in_process("jaxmadrl.evaluate", f"--run={run_dir}", "--lane=1", "--episodes=4", "--seed=3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("lane 1 (seed 0, default, actor LR 0.1, critic LR 0.01) over 4 fresh episodes")
    assert "  eval_reward = -" in result.stdout
    one_line_error(run_in_process("jaxmadrl.evaluate", f"--run={run_dir}", "--lane=4"), 2, "lane 4 is not a lane")
    one_line_error(run_in_process("jaxmadrl.evaluate", f"--run={tmp_path}"), 2, "is not a sweep run")
    one_line_error(run_in_process("jaxmadrl.evaluate", f"--run={run_dir}", "--episodes=0"), 2, "--episodes")
