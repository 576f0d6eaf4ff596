"""`python -m jaxmadrl.figures` on a tiny real sweep, and its error paths."""

import dataclasses
import json
import shutil

import pytest
from cli_helpers import run_in_process

import jaxmadrl
from jaxmadrl.report import catalogue, sizes
from jaxmadrl.store import loading, provenance

pytestmark = pytest.mark.slow  # every test here runs a command whole

FIGURES = [
    "fig01_stopping_heatmap",
    "fig02_stopping_bubbles",
    "fig03_asymmetry_over_time",
    "fig04_gradient_norms_over_time",
    "fig05_layer_gradients_final",
    "fig06_final_asymmetry_vs_stopping",
    "fig07_saturation_over_time",
    "fig08_preactivations_over_time",
    "fig09_final_saturation_heatmap",
    "fig10_saturation_vs_stopping",
    "fig11_learning_curves",
    "fig12_reward_at_stop_vs_end",
    "fig13_per_agent_stopping",
    "fig14_stopping_spread",
    "fig15_saturation_onset_vs_effective_lr",
    "fig16_reference_vs_ours",
]


def test_writes_every_figure_as_png_and_pdf(tiny_sweep, tmp_path):
    run_dir, _ = tiny_sweep
    out = tmp_path / "figures"
    result = run_in_process("jaxmadrl.figures", f"--run={run_dir}", f"--out={out}", "--smooth=5")
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(
        [f"{name}.{ext}" for name in FIGURES for ext in ("png", "pdf")] + ["baselines.md", "claims.md", "grid.md"]
    )
    assert "| seed | all_local | offload_all | random | greedy |" in (out / "baselines.md").read_text()
    grid = (out / "grid.md").read_text().splitlines()
    assert grid[0].startswith("Environment: ")
    assert len([line for line in grid if line.startswith("| default |")]) == 2  # one row per LR configuration
    claims = (out / "claims.md").read_text()
    assert "4. The critic never stops" in claims and "1. Actor LR ≥ 0.01" in claims
    environment = json.loads((run_dir / "environment.json").read_text())
    header = claims.splitlines()[0]
    assert header == provenance.describe(environment) and header in result.stdout
    assert header.startswith("Environment: commit ") and f"jax {environment[0]['versions']['jax']}" in header
    assert "matmul precision highest" in header and "1 lane(s) per call" in header
    assert "tanh derivative 0 from |z| = 7." in header
    for path in out.glob("fig*"):
        header = path.read_bytes()[:8]
        assert header.startswith(b"\x89PNG" if path.suffix == ".png" else b"%PDF")
        assert path.stat().st_size > 5_000


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_variants_get_their_own_figures_and_a_comparison(tiny_variant_sweep, tmp_path):
    run_dir, _ = tiny_variant_sweep
    out = tmp_path / "figures"
    output = catalogue.write_all(jaxmadrl.load_run(run_dir), out, window=3, formats=("png",))
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["softsign", "baseline", "fig17_variants.png", "variants.md"]
    )
    for variant in ("softsign", "baseline"):
        assert len(list((out / variant).glob("fig*.png"))) == len(list((out / variant).glob("fig*"))) == len(FIGURES)
        claims = (out / variant / "claims.md").read_text().splitlines()
        assert claims[0].startswith("Environment: ") and claims[2].startswith("Claims checked on 2 lanes (2 seed(s))")
    # 10 episodes are too few for the reference's 100-episode windows: said, per variant
    assert sorted(output.skipped) == sorted(
        f"{prefix}{name} (the comparison needs at least one 100-episode window, the run has 10)"
        for prefix in ("softsign/", "baseline/")
        for name in ("reference_logged_run", "reference_run.md")
    )
    table = (out / "variants.md").read_text().splitlines()
    assert table[0].startswith("Environment: ")
    rows = [line for line in table if line.startswith("| softsign") or line.startswith("| baseline")]
    assert rows[0].startswith("| softsign | output_activation=softsign | ") and rows[1].startswith("| baseline | – | ")
    assert all(row.count("/2 |") == 2 for row in rows)  # lanes learning: all and at actor LR ≥ 0.01


def test_missing_run_or_unknown_format_is_one_line_exit_2(tmp_path, tiny_sweep):
    run_dir, _ = tiny_sweep
    for args in ([], [f"--run={tmp_path / 'nope'}"], [f"--run={tmp_path}"], [f"--run={run_dir}", "--formats=png,jpg"]):
        result = run_in_process("jaxmadrl.figures", *args, f"--out={tmp_path / 'figs'}")
        assert result.returncode == 2, args
        assert result.stderr.startswith("error:") and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "figs").exists()


def test_incomplete_run_points_to_resume(tiny_sweep, tmp_path):
    run_dir, _ = tiny_sweep
    partial = tmp_path / "partial"
    shutil.copytree(run_dir, partial)
    (partial / "summary.json").unlink()
    result = run_in_process("jaxmadrl.figures", f"--run={partial}", f"--out={tmp_path / 'figs'}")
    assert result.returncode == 2 and "--resume" in result.stderr


def test_corrupt_summary_is_refused(tiny_sweep, tmp_path):
    run_dir, _ = tiny_sweep
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    summary = json.loads((broken / "summary.json").read_text())
    summary["lanes"] = summary["lanes"][:1]
    (broken / "summary.json").write_text(json.dumps(summary))
    result = run_in_process("jaxmadrl.figures", f"--run={broken}", f"--out={tmp_path / 'figs'}")
    assert result.returncode == 2 and "does not match" in result.stderr


def resized(run: loading.Run, **hidden) -> loading.Run:
    """``run`` with other hidden widths in its definition. The comparison reads a run's
    definition, lane table and per-episode metrics, whose shapes no width changes, so a run
    trained at those widths differs from this one only in its numbers."""
    train = dataclasses.replace(run.definition.train, **hidden)
    return dataclasses.replace(run, definition=dataclasses.replace(run.definition, train=train), folder=None)


def test_compare_sizes_of_runs_that_differ_only_in_sizes(tiny_sweep, tiny_variant_sweep, tmp_path):
    run_dir, _ = tiny_sweep
    base = jaxmadrl.load_run(run_dir)
    small, small_critic = resized(base, actor_hidden=(8, 4)), resized(base, critic_hidden=(16, 8))
    out = tmp_path / "sizes"
    catalogue.write_size_comparison(sizes.check_size_runs([base, small, small_critic]), out, formats=("svg",))
    assert sorted(p.name for p in out.iterdir()) == ["fig18_network_sizes.svg", "sizes.md"]
    assert b"<svg" in (out / "fig18_network_sizes.svg").read_bytes()[:1000]
    rows = [line for line in (out / "sizes.md").read_text().splitlines() if line.startswith("| actor ")]
    # By actor then critic parameters. Actor (8, 4): 7·8+8 + 8·4+4 + 4·3+3 = 115; (64, 32):
    # 2691. Critic of 3 agents, input 40: (16, 8) 41·16 + 17·8 + 9 = 801; (512, 128) 86785.
    assert rows[0].startswith("| actor 8,4 / critic 512,128 | 115 | 86785 |")
    assert rows[1].startswith("| actor 64,32 / critic 16,8 | 2691 | 801 |")
    assert rows[2].startswith("| actor 64,32 / critic 512,128 | 2691 | 86785 |")
    assert rows[0].count("stop ") == 2  # one cell per LR configuration
    # The figure's rows: the actor varying at the common critic, the critic at the common actor.
    sides = sizes.size_sides([small_critic, base, small])
    assert {side: [sizes.size_label(run) for run in runs] for side, runs in sides.items()} == {
        "actor": ["actor 8,4 / critic 512,128", "actor 64,32 / critic 512,128"],
        "critic": ["actor 64,32 / critic 16,8", "actor 64,32 / critic 512,128"],
    }
    with pytest.raises(loading.RunError, match="the same actor and critic"):
        sizes.check_size_runs([base, small, base])
    with pytest.raises(loading.RunError, match="differ only in"):
        sizes.check_size_runs([base, jaxmadrl.load_run(tiny_variant_sweep[0])])


@pytest.mark.filterwarnings("error::RuntimeWarning")  # a notebook sees no warning either
def test_figures_of_runs_too_short_to_show_everything_draw_the_rest_and_say_what_they_skipped(tiny_sweep, tmp_path):
    """A 1-episode run and one shorter than episodes_before_train (no training yet, so no
    gradients), a diverged run and one whose lane table lacks keys: the figures that exist
    and the names of those skipped, each with its reason; the command prints them in one line,
    with no traceback or warning. The runs are the tiny sweep's program (only their length,
    schedule and learning rates differ), which that run has compiled."""
    base = {"actor_lrs": [1e-3], "critic_lrs": [1e-2], "n_agents": 3, "steps_per_episode": 3, "chunk": 4}
    runs = (
        ("one-episode", {"episodes": 1}),
        ("before-training", {"episodes": 3, "episodes_before_train": 5}),
        ("diverged", {"episodes": 60, "actor_lrs": [1e30]}),
    )
    for name, extra in runs:
        run_dir = tmp_path / name
        jaxmadrl.run_sweep(jaxmadrl.SweepDefinition.from_dict({**base, "name": name, **extra}), run_dir)
        out = tmp_path / f"{name}-figures"
        output = catalogue.write_all(jaxmadrl.load_run(run_dir), out, formats=("png",))
        assert (out / "fig03_asymmetry_over_time.png").is_file() and output.paths
        if name in ("one-episode", "before-training"):
            assert "layer_gradients_final" in " ".join(output.skipped)
    run_dir = tmp_path / "lane-keys-missing"  # the diverged run's folder, its summary.json edited by hand
    shutil.copytree(tmp_path / "diverged", run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    for lane in summary["lanes"]:
        del lane["all_actors_stopped"], lane["final_saturation"]
    (run_dir / "summary.json").write_text(json.dumps(summary))
    result = run_in_process("jaxmadrl.figures", f"--run={run_dir}", f"--out={tmp_path / 'cli'}", "--formats=png")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert (tmp_path / "cli" / "fig03_asymmetry_over_time.png").is_file()
    assert not list((tmp_path / "cli").glob("*.pdf"))  # the formats asked for, no other
    lines = result.stdout.splitlines()
    assert any(line.startswith("wrote ") for line in lines)
    [skipped] = [line for line in lines if line.startswith("skipped ")]
    assert "stopping_heatmap" in skipped
