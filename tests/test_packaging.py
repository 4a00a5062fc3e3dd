"""Packaging: what an install pulls in, license metadata, the wheel, and `spikegraph bench`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_package_does_not_import_scikit_learn_nor_matplotlib():
    """scikit-learn is not a dependency (it was used for one accuracy only); matplotlib is
    the optional ``plot`` extra, imported only when a study draws its plots."""
    code = (
        "import sys, spikegraph, spikegraph.train, spikegraph.cli, spikegraph.datasets, "
        "spikegraph.experiments.study; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'matplotlib')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"
    extras = pyproject()["project"]["optional-dependencies"]
    assert extras["plot"] == ["matplotlib>=3.7"]
    assert "matplotlib>=3.7" in extras["test"] and "plot" in extras["dev"][0]


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
    # the docs toolchain only, each pinned to a range: no torch, no package (the reference
    # is read from the sources statically)
    names = [re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0] for r in reqs]
    toolchain = {"mkdocs", "mkdocs-material", "mkdocstrings", "mkdocstrings-python"}
    assert toolchain <= set(names), names
    assert set(names) <= toolchain | {"pymdown-extensions", "ruff", "latex2mathml"}, names
    assert all(">=" in r and "<" in r for r in reqs), reqs


def test_every_docs_page_is_in_the_mkdocs_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    docs = ROOT / "docs"
    for page in sorted(docs.rglob("*.md")):
        assert f" {page.relative_to(docs).as_posix()}\n" in nav, page


def test_ci_builds_the_docs_strictly_without_the_package():
    """CI builds the site in an environment of docs/requirements.txt alone (so without
    torch, as the README promises), with warnings as errors."""
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    install = [line for line in ci if "pip install" in line and ".ci-docs-venv" in line]
    assert install and all(
        "-r docs/requirements.txt" in line or "--upgrade pip" in line for line in install
    )
    assert any("mkdocs build --strict" in line and ".ci-docs-venv/bin/" in line for line in ci)
    readme = (ROOT / "README.md").read_text()
    assert "pip install -r docs/requirements.txt && mkdocs build --strict" in readme


def test_ci_runs_the_readme_test_command_verbatim():
    train, test = readme_commands()
    assert "--root" not in train and "SPIKEGRAPH_DATA" not in test  # work on a fresh machine
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci
    assert any(line.startswith("pip wheel --no-deps") for line in ci)
    assert any('"torch==2.13.0" dist/spikegraph-*.whl' in line for line in ci)


# ------------------------------------------------------------------ the installed layout
def module_files() -> dict[str, Path]:
    """Every module of the checkout by its path in an install: the sampler zoo (the top-level
    ``samplers/`` folder) goes under ``spikegraph/samplers/``."""
    files = {}
    for folder, installed in (("spikegraph", "spikegraph"), ("samplers", "spikegraph/samplers")):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "__pycache__" not in path.parts:
                files[f"{installed}/{path.relative_to(ROOT / folder).as_posix()}"] = path
    return files


def test_the_package_list_holds_every_package_folder():
    """``find`` cannot map samplers/ to spikegraph.samplers, so pyproject.toml lists the
    packages: a new subpackage that is not listed would be missing from the wheel."""
    setuptools = pyproject()["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"spikegraph.samplers": "samplers"}
    folders = {
        p.parent.relative_to(ROOT).as_posix()
        for folder in ("spikegraph", "samplers")
        for p in (ROOT / folder).rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    expected = {
        ("spikegraph/" + f if f.split("/")[0] == "samplers" else f).replace("/", ".")
        for f in folders
    }
    assert sorted(setuptools["packages"]) == sorted(expected)
    # every .py file sits in a listed package (a module in a folder without __init__.py
    # would be left out of the wheel)
    packages = {name.rsplit("/", 1)[0].replace("/", ".") for name in module_files()}
    assert packages <= expected, packages - expected
    # no other top-level package in the repository, and none inside spikegraph/ that the
    # mapping would shadow
    top = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert top == {"spikegraph", "samplers", "tests"}, top
    assert not (ROOT / "spikegraph" / "samplers").exists()


def test_the_wheel_holds_every_module_under_its_installed_name(tmp_path):
    """Build the wheel from a copy of the sources: every module is in it, the zoo as
    ``spikegraph/samplers/``, and nothing else at the top level."""
    try:
        import setuptools
    except ModuleNotFoundError:
        pytest.skip("building the wheel needs setuptools in this environment")
    major = int(setuptools.__version__.split(".")[0])
    if major < 77:  # CI builds and checks the wheel in .ci/run with an isolated build
        pytest.skip(f"building the wheel needs setuptools>=77, found {setuptools.__version__}")
    import shutil
    import zipfile

    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    for folder in ("spikegraph", "samplers"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(src)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (wheel,) = out.glob("spikegraph-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        info = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
        assert z.read(info).decode().split() == ["spikegraph"]
    modules = sorted(n for n in names if ".dist-info/" not in n)
    assert modules == sorted(module_files())


def test_nothing_imports_the_old_top_level_samplers_name():
    """Code, docs, benchmarks and CI import the zoo as spikegraph.samplers (the old name
    fails from a checkout and does not exist in a wheel)."""
    import re

    old = re.compile(r"^\s*(from samplers[ .]|import samplers\b)", re.MULTILINE)
    files = [ROOT / "README.md", ROOT / ".ci" / "run"]
    for folder, pattern in (
        ("spikegraph", "*.py"),
        ("samplers", "*.py"),
        ("tests", "*.py"),
        ("benchmarks", "*.py"),
        ("docs", "*.md"),
    ):
        files += (ROOT / folder).rglob(pattern)
    bad = [str(f.relative_to(ROOT)) for f in files if old.search(f.read_text())]
    assert not bad, bad
    assert "samplers.py" in (ROOT / ".ci" / "run").read_text()  # a user's module in the smoke


def test_the_checkout_finder_only_acts_beside_a_checkout(tmp_path):
    """In a checkout (samplers/ beside spikegraph/) the finder loads the zoo from there; in
    an install (spikegraph/samplers/ inside the package) or without the folder it does not."""
    from spikegraph import _checkout

    checkout = tmp_path / "checkout"
    (checkout / "spikegraph").mkdir(parents=True)
    (checkout / "samplers").mkdir()
    (checkout / "samplers" / "__init__.py").write_text("")
    assert _checkout.samplers_folder(checkout / "spikegraph") == checkout / "samplers"
    spec = _checkout.CheckoutSamplersFinder(checkout / "samplers").find_spec("spikegraph.samplers")
    assert spec.name == "spikegraph.samplers"
    assert spec.submodule_search_locations == [str(checkout / "samplers")]
    assert _checkout.CheckoutSamplersFinder(checkout / "samplers").find_spec("samplers") is None
    site = tmp_path / "site-packages"
    (site / "spikegraph" / "samplers").mkdir(parents=True)
    (site / "samplers").mkdir()  # e.g. a user's own package beside the install
    (site / "samplers" / "__init__.py").write_text("")
    assert _checkout.samplers_folder(site / "spikegraph") is None
    assert _checkout.samplers_folder(tmp_path / "nowhere" / "spikegraph") is None
    # spikegraph as imported here is a checkout: one finder, for its own samplers/ folder
    finders = [f for f in sys.meta_path if isinstance(f, _checkout.CheckoutSamplersFinder)]
    assert [f.folder for f in finders] == [ROOT / "samplers"]


def test_the_readme_names_every_extra():
    """README's install paragraph lists the extras a user can ask for: every one that
    pyproject.toml declares, and no other."""
    extras = set(pyproject()["project"]["optional-dependencies"])
    readme = (ROOT / "README.md").read_text()
    sentence = re.search(r"Extras: (.*?)\. ", readme, re.DOTALL)
    assert sentence is not None, "README.md has no 'Extras: ...' sentence"
    named = set(re.findall(r"`([a-z]+)`", re.sub(r"\([^)]*\)", "", sentence[1])))
    assert named == extras
