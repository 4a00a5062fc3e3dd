"""The public API of spikegraph, read statically from the sources, and what the reference
pages (``docs/reference/*.md``) document of it.

Needs only the standard library: the docs build (``hooks.py``, without the package or
torch) and the test suite (``tests/docs/test_reference.py``) both use it.

**What is public.** A public module is a module or package of the installed tree
(``spikegraph``, its subpackages, and the sampler zoo as ``spikegraph.samplers``) no part of
whose dotted path starts with ``_``. Its public names are its ``__all__`` when it defines
one; otherwise every top-level name it defines (class, function, assignment) that does not
start with ``_``; imported names are public only through an ``__all__``. This is griffe's
rule, so mkdocstrings' ``filters: public`` shows the same names.

**What the reference documents.** Each page has ``::: <module>`` directives with an explicit
``members: [...]`` list (one line, or continued lines up to the ``]``). A directive documents
the module itself and each listed member. An object is documented once, under the shortest
public path that exports it (``spikegraph.nn.LIF``, not ``spikegraph.nn.neurons.lif.LIF``):
objects are compared by their canonical path, the module where they are defined.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

#: Installed import name -> folder of the checkout that holds it.
ROOTS = {"spikegraph": "spikegraph", "spikegraph.samplers": "samplers"}

#: Folder of the reference pages, relative to the checkout.
REFERENCE = Path("docs/reference")


@dataclass
class ModuleInfo:
    """One module of the source tree, as its syntax tree says."""

    path: str
    file: Path
    is_package: bool
    exports: list[str] | None
    defined: list[str] = field(default_factory=list)
    imports: dict[str, str] = field(default_factory=dict)

    @property
    def public(self) -> bool:
        """No part of the dotted path starts with ``_``."""
        return not any(part.startswith("_") for part in self.path.split("."))

    @property
    def public_names(self) -> list[str]:
        """``__all__``, else the top-level names defined here without a leading ``_``."""
        if self.exports is not None:
            return list(self.exports)
        return [name for name in self.defined if not name.startswith("_")]


def _absolute(module: ModuleInfo, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.path.split(".")
    if not module.is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _read(path: str, file: Path, is_package: bool) -> ModuleInfo:
    tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
    info = ModuleInfo(path, file, is_package, None)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            info.defined.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if not isinstance(target, ast.Name):
                    continue
                if target.id == "__all__":
                    try:
                        info.exports = list(ast.literal_eval(node.value))
                    except ValueError as error:
                        raise ValueError(f"{file}: __all__ is not a literal list") from error
                elif target.id not in info.defined:
                    info.defined.append(target.id)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(info, node)
            for alias in node.names:
                info.imports[alias.asname or alias.name] = f"{source}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    info.imports[alias.asname] = alias.name
    return info


def load_modules(checkout: Path) -> dict[str, ModuleInfo]:
    """Every module of the installed tree, by dotted path (the zoo as ``spikegraph.samplers``).

    Args:
        checkout: The repository's root.

    Returns:
        Dotted path -> :class:`ModuleInfo`.
    """
    modules: dict[str, ModuleInfo] = {}
    for name, folder in ROOTS.items():
        root = checkout / folder
        for file in sorted(root.rglob("*.py")):
            rel = file.relative_to(root)
            if "__pycache__" in rel.parts:
                continue
            parts = list(rel.with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            path = ".".join([name, *parts])
            if (
                path.startswith("spikegraph.samplers")
                and name == "spikegraph"
                and folder != "samplers"
            ):
                continue
            if not (file.parent / "__init__.py").is_file():
                continue  # a script folder, not importable
            modules[path] = _read(path, file, is_package)
    return modules


def canonical(path: str, modules: dict[str, ModuleInfo], _seen: frozenset = frozenset()) -> str:
    """The path where the object ``path`` names is defined, following re-exports.

    Args:
        path: A dotted path (module, or module plus name).
        modules: :func:`load_modules`'s result.

    Returns:
        The defining path; ``path`` itself for a module, or for a name from outside the tree.
    """
    if path in modules or path in _seen:
        return path
    owner, _, name = path.rpartition(".")
    module = modules.get(owner)
    if module is None:
        return path
    if name in module.imports:
        return canonical(module.imports[name], modules, _seen | {path})
    return path


@dataclass
class Directive:
    """One ``::: target`` directive of a reference page."""

    page: Path
    line: int
    target: str
    members: list[str] | None


_DIRECTIVE = re.compile(r"^::: (?P<target>[\w.]+)\s*$")
_MEMBERS = re.compile(r"^\s+members:\s*(?P<value>.*)$")


def parse_directives(page: Path) -> list[Directive]:
    """The mkdocstrings directives of a page, with their explicit ``members`` lists.

    Args:
        page: A Markdown file.

    Returns:
        The directives in page order; ``members`` is ``None`` where the option is absent.

    Raises:
        ValueError: A ``members`` option that is not a flow list of names.
    """
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Directive] = []
    for i, line in enumerate(lines):
        match = _DIRECTIVE.match(line)
        if not match:
            continue
        directive = Directive(page, i + 1, match["target"], None)
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or lines[j].startswith((" ", "\t"))):
            member_match = _MEMBERS.match(lines[j])
            if member_match:
                value = member_match["value"].strip()
                while value.startswith("[") and "]" not in value and j + 1 < len(lines):
                    j += 1
                    value += " " + lines[j].strip()
                if value in ("false", "[]"):
                    directive.members = []
                elif value.startswith("[") and value.endswith("]"):
                    directive.members = [m.strip() for m in value[1:-1].split(",") if m.strip()]
                else:
                    raise ValueError(
                        f"{page}:{j + 1}: members must be a list `[a, b]` or false, not {value!r}"
                    )
            j += 1
        found.append(directive)
    return found


def reference_directives(checkout: Path) -> list[Directive]:
    """Every directive of every reference page."""
    return [
        d for page in sorted((checkout / REFERENCE).glob("*.md")) for d in parse_directives(page)
    ]


@dataclass
class Coverage:
    """How the reference pages cover the public API."""

    #: Public modules without a directive of their own.
    modules_missing: list[str]
    #: Public names (module path + name) whose object no directive documents.
    names_missing: list[str]
    #: Listed members that are not public names of their directive's module.
    not_public: list[str]
    #: Objects documented more than once: canonical path -> the documented paths.
    documented_twice: dict[str, list[str]]
    #: Every documented path (``module`` and ``module.member``), for the build's check.
    documented: list[str]
    #: Public names in all: ``(module, name)``.
    public: list[tuple[str, str]]


def coverage(checkout: Path) -> Coverage:
    """Compare the public API with what the reference pages document.

    Args:
        checkout: The repository's root.

    Returns:
        A :class:`Coverage`; the reference is complete when its first four lists are empty.
    """
    modules = load_modules(checkout)
    public = [(m.path, name) for m in modules.values() if m.public for name in m.public_names]
    directed: set[str] = set()
    documented: list[str] = []
    by_canonical: dict[str, list[str]] = {}
    not_public: list[str] = []
    for d in reference_directives(checkout):
        module = modules.get(d.target)
        documented.append(d.target)
        if module is not None:
            directed.add(d.target)
            members = module.public_names if d.members is None else d.members
            for name in members:
                path = f"{d.target}.{name}"
                if name not in module.public_names:
                    not_public.append(f"{path} ({d.page.name}:{d.line})")
                documented.append(path)
                by_canonical.setdefault(canonical(path, modules), []).append(path)
        else:
            by_canonical.setdefault(canonical(d.target, modules), []).append(d.target)
    missing_names = [
        f"{module}.{name}"
        for module, name in public
        if canonical(f"{module}.{name}", modules) not in by_canonical
    ]
    return Coverage(
        modules_missing=[m.path for m in modules.values() if m.public and m.path not in directed],
        names_missing=missing_names,
        not_public=not_public,
        documented_twice={c: paths for c, paths in by_canonical.items() if len(paths) > 1},
        documented=documented,
        public=public,
    )


def home(modules: dict[str, ModuleInfo]) -> dict[str, str]:
    """Where each public object is documented: canonical path -> the shortest public path
    exporting it (a package's ``__all__`` before its modules'), modules in path order.

    Args:
        modules: :func:`load_modules`'s result.

    Returns:
        Canonical path -> ``module.name`` to document it under.
    """
    placed: dict[str, str] = {}
    for module in sorted(
        (m for m in modules.values() if m.public), key=lambda m: (m.path.count("."), m.path)
    ):
        for name in module.public_names:
            placed.setdefault(canonical(f"{module.path}.{name}", modules), f"{module.path}.{name}")
    return placed


def skeleton(checkout: Path, prefix: str, exclude: tuple[str, ...] = ()) -> str:
    """The directives documenting every public module under ``prefix`` (itself included,
    packages in ``exclude`` left out), each listing the objects that are documented under it
    (:func:`home`): the body of a reference page.

    Args:
        checkout: The repository's root.
        prefix: A dotted module path, e.g. ``spikegraph.nn``.
        exclude: Module paths (with everything below them) that have pages of their own.

    Returns:
        Markdown.
    """
    modules = load_modules(checkout)
    by_module: dict[str, list[str]] = {}
    for path in home(modules).values():
        module, _, name = path.rpartition(".")
        by_module.setdefault(module, []).append(name)
    blocks = []
    for path in sorted(modules):
        inside = path == prefix or path.startswith(prefix + ".")
        excluded = any(path == e or path.startswith(e + ".") for e in exclude)
        if not inside or excluded or not modules[path].public:
            continue
        names = by_module.get(path, [])
        members = "false"
        if names:
            lines, line = [], "      members: ["
            for i, name in enumerate(names):
                item = name + (", " if i < len(names) - 1 else "]")
                if len(line) + len(item.rstrip()) > 96:
                    lines.append(line.rstrip())
                    line = "        "
                line += item
            members = "\n".join([*lines, line])[len("      members: ") :]
        blocks.append(f"::: {path}\n    options:\n      members: {members}\n")
    return "\n".join(blocks)


if __name__ == "__main__":
    import sys

    # python docs/tooling/public_api.py spikegraph.nn [EXCLUDED ...]: a page's directives
    print(skeleton(Path(__file__).resolve().parents[2], sys.argv[1], tuple(sys.argv[2:])))
