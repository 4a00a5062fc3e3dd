"""The API reference (docs/reference/*.md) covers the public API, as
docs/tooling/public_api.py defines it; its static reading agrees with the imported package."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_tool():
    spec = importlib.util.spec_from_file_location(
        "spikegraph_docs_public_api", ROOT / "docs" / "tooling" / "public_api.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


api = load_tool()
MODULES = api.load_modules(ROOT)


def test_every_public_module_and_name_has_one_entry():
    report = api.coverage(ROOT)
    assert not report.modules_missing, (
        f"public modules without a `::: module` entry: {report.modules_missing}"
    )
    assert not report.names_missing, (
        "public names no reference page documents (add them to the `members` of their "
        "module's entry; `python docs/tooling/public_api.py MODULE` prints it): "
        f"{report.names_missing}"
    )
    assert not report.not_public, f"listed members that are not public: {report.not_public}"
    assert not report.documented_twice, f"objects documented twice: {report.documented_twice}"


def test_the_api_is_read_in_full():
    """The static reading finds the whole tree, the zoo under its installed name."""
    assert {
        "spikegraph",
        "spikegraph.nn",
        "spikegraph.samplers",
        "spikegraph.samplers.batch",
    } <= set(MODULES)
    assert "samplers" not in MODULES and "spikegraph._checkout" in MODULES
    public = [m for m in MODULES.values() if m.public]
    assert len(public) > 50
    assert len(api.coverage(ROOT).public) > 400
    files = {
        p.resolve()
        for folder in ("spikegraph", "samplers")
        for p in (ROOT / folder).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert {m.file.resolve() for m in MODULES.values()} == files


@pytest.mark.parametrize("path", sorted(p for p, m in MODULES.items() if m.public))
def test_static_public_names_are_the_imported_ones(path):
    """What the reference calls public (read statically, as griffe reads it) is what Python
    imports: `__all__` as the module has it, or names the module defines itself."""
    module = importlib.import_module(path)
    info = MODULES[path]
    if info.exports is not None:
        assert list(module.__all__) == info.exports
    else:
        assert not hasattr(module, "__all__")
        expected = {
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and getattr(value, "__module__", path) == path
            and not isinstance(value, type(sys))
            and name not in info.imports
        }
        assert expected <= set(info.public_names)
    for name in info.public_names:
        assert hasattr(module, name), f"{path}.{name}"


def test_documented_paths_are_the_objects_they_name():
    """Each entry's path imports, and an entry stands for the object defined where the
    canonical path says (one entry per object, checked by identity)."""
    seen = {}
    for path in api.coverage(ROOT).documented:
        owner, _, name = path.rpartition(".")
        if path in MODULES:
            obj = importlib.import_module(path)
        else:
            obj = getattr(importlib.import_module(owner), name)
        canonical = api.canonical(path, MODULES)
        c_owner, _, c_name = canonical.rpartition(".")
        if canonical in MODULES:
            assert obj is importlib.import_module(canonical)
        else:
            assert obj is getattr(importlib.import_module(c_owner), c_name), path
        if isinstance(obj, type) or callable(obj):
            assert id(obj) not in seen, f"{path} and {seen.get(id(obj))} document one object"
            seen[id(obj)] = path


def test_canonical_paths_follow_reexports():
    assert api.canonical("spikegraph.nn.LIF", MODULES) == "spikegraph.nn.neurons.lif.LIF"
    assert api.canonical("spikegraph.samplers.Batch", MODULES) == "spikegraph.samplers.batch.Batch"
    assert api.canonical("spikegraph.nn.conv", MODULES) == "spikegraph.nn.conv"
    assert api.canonical("torch.Tensor", MODULES) == "torch.Tensor"


def fake_tree(root: Path, page: str) -> Path:
    (root / "spikegraph" / "sub").mkdir(parents=True)
    (root / "samplers").mkdir()
    (root / "samplers" / "__init__.py").write_text(
        "from .base import Sampler\n__all__ = ['Sampler']\n"
    )
    (root / "samplers" / "base.py").write_text("class Sampler: ...\n")
    (root / "spikegraph" / "__init__.py").write_text("")
    (root / "spikegraph" / "sub" / "__init__.py").write_text(
        "from spikegraph.sub.impl import f, g\n__all__ = ['f', 'g']\n"
    )
    (root / "spikegraph" / "sub" / "impl.py").write_text(
        "def f(): ...\ndef g(): ...\ndef extra(): ...\ndef _private(): ...\nlog = 1\n"
    )
    (root / "docs" / "reference").mkdir(parents=True)
    (root / "docs" / "reference" / "x.md").write_text(page)
    return root


def test_coverage_reports_what_is_missing(tmp_path):
    page = (
        "# x\n\n::: spikegraph\n    options:\n      members: false\n\n"
        "::: spikegraph.sub\n    options:\n      members: [f,\n        nope]\n\n"
        "::: spikegraph.sub.impl\n    options:\n      members: [f, extra]\n"
    )
    report = api.coverage(fake_tree(tmp_path, page))
    assert report.modules_missing == ["spikegraph.samplers", "spikegraph.samplers.base"]
    assert sorted(report.names_missing) == [
        "spikegraph.samplers.Sampler",
        "spikegraph.samplers.base.Sampler",
        "spikegraph.sub.g",
        "spikegraph.sub.impl.g",
        "spikegraph.sub.impl.log",
    ]
    assert report.not_public == ["spikegraph.sub.nope (x.md:7)"]
    assert report.documented_twice == {
        "spikegraph.sub.impl.f": ["spikegraph.sub.f", "spikegraph.sub.impl.f"]
    }


def test_skeleton_documents_each_object_once_where_exported(tmp_path):
    root = fake_tree(tmp_path, "# x\n")
    page = (
        "# x\n\n"
        + api.skeleton(root, "spikegraph", ("spikegraph.samplers",))
        + "\n"
        + api.skeleton(root, "spikegraph.samplers")
    )
    (root / "docs" / "reference" / "x.md").write_text(page)
    report = api.coverage(root)
    assert (
        report.modules_missing,
        report.names_missing,
        report.not_public,
        report.documented_twice,
    ) == (
        [],
        [],
        [],
        {},
    )
    assert "::: spikegraph.sub\n    options:\n      members: [f, g]\n" in page
    assert "::: spikegraph.sub.impl\n    options:\n      members: [extra, log]\n" in page


def test_members_must_be_a_list(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("::: spikegraph.nn\n    options:\n      members: LIF\n")
    with pytest.raises(ValueError, match=r"p\.md:3: members must be a list"):
        api.parse_directives(page)


def test_every_reference_page_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in sorted((ROOT / "docs" / "reference").glob("*.md")):
        assert f"reference/{page.name}" in nav, page.name
