"""Smoke runs of every benchmark script's ``--quick`` mode (CI runs them through this file).

Each script runs in a subprocess, as a user would start it, and writes only into a temporary
folder. Nothing is timed here: the numbers come from the full runs in ``benchmarks/``.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p.name for p in (ROOT / "benchmarks").glob("*.py") if not p.name.startswith("_"))


def test_every_script_is_covered():
    assert set(SCRIPTS) == {
        "cost_overhead.py",
        "ddp_speedup.py",
        "energy.py",
        "neuron_speed.py",
        "minibatch_speed.py",
        "node_classification.py",
        "paper_baselines.py",
        "probe_variants.py",
        "pyg_example.py",
        "class_defaults_sweep.py",
        "sampler_study.py",
        "sampler_sizes_sweep.py",
        "saint_norms.py",
        "samplers_accuracy.py",
        "samplers_speed.py",
        "samplers_variance.py",
        "scale.py",
        "speed.py",
        "tune_sweeps.py",
        "vrgcn_cvd.py",
    }


@pytest.mark.parametrize("script", SCRIPTS)
def test_quick_mode_runs(script, data_root, tmp_path):
    env = {**os.environ, "SPIKEGRAPH_DATA": str(data_root), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.strip(), "the script printed nothing"


def test_cli_bench_names_every_script():
    from spikegraph.cli import BENCHMARKS, benchmark_script

    assert sorted(BENCHMARKS.values()) == SCRIPTS
    assert all(benchmark_script(name).parent == ROOT / "benchmarks" for name in BENCHMARKS)


def test_cli_bench_runs_the_script_and_passes_its_exit_code():
    from spikegraph.cli import main

    assert main(["bench", "nodes", "--help"]) == 0
    assert main(["bench", "nodes", "--models", "nonexistent"]) == 2  # argparse error of the script


def test_cli_bench_fails_with_the_script(tmp_path):
    from spikegraph.cli import main
    from tests.benchmarks.conftest import deadline

    with deadline(120):  # the README's example with a bad name: an error, not a hang
        assert main(["bench", "nodes", "--datasets", "../../etc", "--out", str(tmp_path)]) == 2
    assert not any(tmp_path.iterdir())


def test_the_benchmarks_page_names_every_cli_benchmark():
    """docs/benchmarks.md listed 6 of the 19 names of ``spikegraph bench``: every script
    added since was missing from it."""
    import re

    from spikegraph.cli import BENCHMARKS

    page = (ROOT / "docs" / "benchmarks.md").read_text()
    paragraph = page[page.index("`spikegraph bench NAME") :].split("\n\n")[0]
    listed = re.findall(r"`([a-z-]+)`", paragraph.split("):", 1)[1])
    assert listed == list(BENCHMARKS)
    rows = re.findall(r"^\| `(\w+\.py)` \|", page, flags=re.M)  # the table of scripts
    assert sorted(rows) == SCRIPTS
