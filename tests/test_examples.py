"""The example notebook runs as written: every code cell, in order, in one namespace, as a
kernel would run them (here in this test process, off-screen), so that it cannot rot."""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from jaxmadrl.core import paths  # noqa: E402

NOTEBOOK = paths.REPOSITORY_DIR / "examples" / "quickstart.ipynb"


def run_cells(cells: list[dict]) -> dict:
    """Every code cell's source, in order, in one fresh namespace; the namespace at the end."""
    namespace: dict = {"__name__": "__main__"}
    for number, cell in enumerate(cells):
        exec(compile("".join(cell["source"]), f"{NOTEBOOK.name} code cell {number}", "exec"), namespace)
    return namespace


@pytest.mark.slow  # it trains a sweep
def test_the_quickstart_notebook_runs_every_cell(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the notebook writes its run under ./runs
    plt.close("all")
    cells = [cell for cell in json.loads(NOTEBOOK.read_text())["cells"] if cell["cell_type"] == "code"]
    namespace = run_cells(cells)
    assert "40/40 episodes" in capsys.readouterr().out
    run = namespace["run"]
    assert len(run.lanes) == 4 and run.episodes == 40 and (tmp_path / "runs" / "quickstart" / "params.npz").is_file()
    assert set(namespace["frame"]["metric"]) == {"saturation", "grad_ratio"}
    assert list(namespace["lanes"]["actor_lr"]) == [1e-3, 1e-1, 1e-3, 1e-1]
    assert len(plt.get_fignums()) == 3  # the three plots
    plt.close("all")
    again = run_cells(cells)  # executed again, it reads the finished run back instead of training
    assert capsys.readouterr().out.startswith("4 lanes, 40 episodes")  # no progress lines: nothing trained
    assert again["run"].lanes == run.lanes
    plt.close("all")
