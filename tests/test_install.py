"""The package installed from its wheel, away from the repository: the named sweeps ship as
package data, the console scripts are declared, and the main job runs."""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest
from cli_helpers import run_module

from jaxmadrl.core import paths

pytestmark = pytest.mark.slow  # builds a wheel and runs a sweep in fresh processes


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel's contents unpacked (a wheel is the zip of the installed tree) and its names."""
    root = tmp_path_factory.mktemp("wheel")
    # Built from a copy, so that nothing is written into the checkout and no stale build/ leaks in.
    top_level = {"build", "sweeps", "figures", "tests", "benchmarks"}  # results and builds, not the package

    def unneeded(folder, names):
        top = folder == str(paths.REPOSITORY_DIR)
        return [n for n in names if n.startswith(".") or n.endswith(".egg-info") or (top and n in top_level)]

    source = shutil.copytree(paths.REPOSITORY_DIR, root / "source", ignore=unneeded)
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(root / "dist"), str(source)]
    done = subprocess.run(build, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = (root / "dist").glob("jaxmadrl-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(root / "site")
        return root / "site", archive.namelist()


def test_the_wheel_holds_every_named_sweep_the_data_the_scripts_and_the_license(installed):
    _, names = installed
    sweeps = sorted(path.name for path in paths.SWEEPS_DIR.glob("*.json"))
    assert len(sweeps) >= 18 and all(f"jaxmadrl/sweeps/{name}" in names for name in sweeps)
    assert all(f"jaxmadrl/data/{path.name}" in names for path in paths.DATA_DIR.glob("*.json"))
    assert any(name.endswith("dist-info/licenses/LICENSE") or name.endswith("dist-info/LICENSE") for name in names)
    site, _ = installed
    (entry_points,) = site.glob("jaxmadrl-*.dist-info/entry_points.txt")
    scripts = entry_points.read_text()
    for command in ("sweep", "train", "figures", "evaluate"):
        assert f"jaxmadrl-{command} = jaxmadrl.cli.launch:{command}" in scripts


def test_installed_elsewhere_it_finds_its_sweeps_and_runs_the_main_job(installed, tmp_path):
    site, _ = installed
    elsewhere = {"PYTHONPATH": str(site)}  # only the wheel's copy, from a folder outside the checkout
    names = sorted(path.stem for path in paths.SWEEPS_DIR.glob("*.json"))
    code = (
        "import json, jaxmadrl; from jaxmadrl.study.definition import load_definition; "
        f"loaded = [load_definition(n).name for n in {names!r}]; print(jaxmadrl.__file__); print(json.dumps(loaded))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env={**os.environ, **elsewhere}, capture_output=True, text=True
    )
    assert found.returncode == 0, found.stderr[-2000:]
    where, loaded = found.stdout.strip().splitlines()[-2:]
    assert where.startswith(str(site)) and json.loads(loaded) == names
    # The tiny sweep's program (tests/cli_helpers.TINY_SWEEP), which the session has compiled
    tiny = [
        "--n_agents=3",
        "--steps_per_episode=3",
        "--episodes=4",
        "--chunk=4",
        "--seeds=1",
        f"--out={tmp_path / 'run'}",
    ]
    result = run_module("jaxmadrl.sweep", "--all-16", *tiny, env=elsewhere, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(json.loads((tmp_path / "run" / "summary.json").read_text())["lanes"]) == 16
