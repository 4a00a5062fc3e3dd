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


def pyproject() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def readme_commands() -> list[str]:
    """The shell lines of README.md's first code block (the install commands)."""
    text = (ROOT / "README.md").read_text()
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_license_metadata():
    project = pyproject()["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "spikegraph developers" in text
    requires = pyproject()["build-system"]["requires"]
    assert any(r.replace(" ", "").startswith("setuptools>=7") for r in requires), requires
    assert not any(c.startswith("License ::") for c in project["classifiers"])  # PEP 639


def test_no_runtime_dependency_on_scikit_learn_and_docs_without_the_package():
    project = pyproject()["project"]
    assert not any(d.startswith("scikit-learn") for d in project["dependencies"])
    extras = project["optional-dependencies"]
    assert "docs" not in extras  # an extra installs the package, hence torch
    lines = (ROOT / "docs" / "requirements.txt").read_text().lower().splitlines()
    reqs = [line for line in lines if line.strip() and not line.startswith("#")]
    assert reqs and all(r.startswith("mkdocs") for r in reqs), reqs


def test_every_docs_page_is_in_the_mkdocs_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f": {page.name}" in nav, page.name


def test_ci_runs_the_readme_test_command_verbatim():
    train, test = readme_commands()
    assert "--root" not in train and "SPIKEGRAPH_DATA" not in test  # work on a fresh machine
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci
    assert any(line.startswith("pip wheel --no-deps") for line in ci)
    assert any('"torch==2.13.0" dist/spikegraph-*.whl' in line for line in ci)
