"""The import rules of the package layout: lower layers never import upper ones.

Read from the source with ``ast`` (every ``import``/``from`` statement, also inside
functions), so a lazy import inside a function cannot sneak past the rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import spikegraph

ROOT = Path(spikegraph.__file__).resolve().parent
SAMPLERS = ROOT.parent / "samplers"

#: package -> spikegraph subpackages (or modules) it must never import.
FORBIDDEN = {
    "nn": {"models", "train", "cost", "cli", "experiments", "samplers", "datasets", "config"},
    "cost": {"train", "cli", "experiments", "datasets", "config"},
    "models": {"train", "cli", "experiments", "cost", "config"},
    "train": {"cli", "experiments", "config"},
    "datasets": {"nn", "models", "train", "cost", "cli", "experiments"},
    "experiments": {"cli"},
}


def imported_spikegraph_parts(path: Path, package: str) -> set[str]:
    """First component under ``spikegraph`` of every module ``path`` imports."""
    tree = ast.parse(path.read_text(), filename=str(path))
    parts = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = path.relative_to(ROOT.parent).with_suffix("").parts[: -node.level]
                names = [".".join([*base, node.module] if node.module else base)]
                if not node.module:
                    names = [f"{names[0]}.{a.name}" for a in node.names]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            bits = name.split(".")
            if bits[0] == "spikegraph" and len(bits) > 1:
                parts.add(bits[1])
    return parts


def package_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_nothing_from_upper_layers(package):
    bad = {}
    for path in package_files(package):
        hit = imported_spikegraph_parts(path, package) & FORBIDDEN[package]
        if hit:
            bad[str(path.relative_to(ROOT))] = sorted(hit)
    assert not bad, f"{package} imports upper layers: {bad}"


def test_the_sampler_zoo_imports_nothing_from_spikegraph():
    bad = {}
    for path in sorted(SAMPLERS.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            module = None
            if isinstance(node, ast.ImportFrom) and not node.level:
                module = node.module
            elif isinstance(node, ast.Import):
                module = node.names[0].name
            if module and module.split(".")[0] == "spikegraph":
                bad.setdefault(path.name, []).append(module)
    assert not bad, f"the sampler zoo imports spikegraph: {bad}"


def test_the_rule_checker_sees_lazy_and_relative_imports(tmp_path, monkeypatch):
    """The checker is not blind: a lazy import inside a function and a relative import are
    both seen (a checker that found nothing would pass every rule)."""
    fake = ROOT / "nn" / "x.py"
    src = "def f():\n    from spikegraph.train import fit\n\nfrom ..models import basic\n"
    monkeypatch.setattr(Path, "read_text", lambda self: src)
    assert imported_spikegraph_parts(fake, "nn") == {"train", "models"}
