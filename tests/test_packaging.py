"""Packaging: what an install pulls in, license metadata, the wheel, and `spikegraph bench`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_package_does_not_import_scikit_learn():
    """scikit-learn is not a dependency (it was used for one accuracy only)."""
    code = (
        "import sys, spikegraph, spikegraph.train, spikegraph.cli, spikegraph.datasets; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"


def fake_checkout(folder: Path, script: str = "speed.py") -> Path:
    (folder / "spikegraph").mkdir(parents=True)
    (folder / "spikegraph" / "__init__.py").write_text("")
    (folder / "benchmarks").mkdir()
    (folder / "benchmarks" / script).write_text("print('fake benchmark')\n")
    return folder


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """Make spikegraph.cli look as if it ran from a non-editable install (site-packages)."""
    from spikegraph import cli

    site = tmp_path / "site-packages" / "spikegraph"
    site.mkdir(parents=True)
    monkeypatch.setattr(cli, "__file__", str(site / "cli.py"))
    return cli


def test_bench_finds_the_checkout_from_a_non_editable_install(installed, tmp_path, monkeypatch):
    checkout = fake_checkout(tmp_path / "checkout")
    (checkout / "docs").mkdir()
    assert installed.benchmark_script("speed", cwd=checkout) == checkout / "benchmarks/speed.py"
    # from a subfolder too, and through the current directory
    monkeypatch.chdir(checkout / "docs")
    assert installed.benchmark_script("speed") == checkout / "benchmarks" / "speed.py"


def test_bench_outside_a_checkout_is_a_clear_error(installed, tmp_path, monkeypatch, capsys):
    # a benchmarks/ folder that is not spikegraph's is not taken
    (tmp_path / "elsewhere" / "benchmarks").mkdir(parents=True)
    (tmp_path / "elsewhere" / "benchmarks" / "speed.py").write_text("raise SystemExit(3)\n")
    monkeypatch.chdir(tmp_path / "elsewhere")
    with pytest.raises(FileNotFoundError, match="needs a source checkout of spikegraph") as info:
        installed.benchmark_script("speed")
    assert str(tmp_path / "elsewhere") in str(info.value)
    assert installed.main(["bench", "speed"]) == 2
    assert "spikegraph: error: benchmark 'speed' needs a source checkout" in capsys.readouterr().err


def test_bench_prefers_the_checkout_the_package_runs_from(tmp_path):
    from spikegraph import cli

    other = fake_checkout(tmp_path / "other")
    assert cli.benchmark_script("speed", cwd=other) == ROOT / "benchmarks" / "speed.py"
