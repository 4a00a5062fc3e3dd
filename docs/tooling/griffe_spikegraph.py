"""Griffe extension for the API reference: the sampler zoo under its installed name, and the
docstrings' reST maths and cross-references in a form MkDocs renders.

Loaded by ``mkdocstrings`` (``mkdocs.yml``) from this file, so the documentation toolchain
needs neither the package nor torch installed: griffe reads the sources statically.

- ``spikegraph.samplers``: the repository keeps the zoo in its top-level ``samplers/`` folder
  and installs it as ``spikegraph.samplers`` (``pyproject.toml``'s package-dir mapping). A
  source tree has no ``spikegraph/samplers/``, so once griffe has loaded ``spikegraph``, the
  folder is visited as its member ``samplers``: every object's path is then
  ``spikegraph.samplers...``, and relative imports resolve as they do when installed.
- Maths: the docstrings keep reST (``.. math::`` blocks, ``:math:`...``` roles), which
  ``help()`` shows as plain, readable LaTeX. Here they become arithmatex's ``\\[...\\]`` and
  ``\\(...\\)``, rendered as MathML when the site is built (``docs/tooling/mathml.py``).
- Cross-references: ``:class:`~a.b.C``` (and ``:func:``, ``:mod:``, ``:meth:``, ``:attr:``,
  ``:data:``, ``:exc:``, ``:obj:``) become code linked to the object's entry when the
  reference documents it (an optional autoref, resolved in the object's scope as Python
  would), and plain code otherwise (torch, PyG).
- ``Shapes:`` sections (the layers') are left to griffe, which makes a titled block of them.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import griffe

#: The zoo's installed name, under ``spikegraph``.
ZOO = "samplers"

_MATH_BLOCK = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<inline>\S.*)?$")
_MATH_ROLE = re.compile(r":math:`(?P<tex>[^`]+)`")
_XREF_ROLE = re.compile(r":(?:py:)?(?:class|func|mod|meth|attr|data|exc|obj):`(?P<target>[^`]+)`")


def math_to_arithmatex(text: str) -> str:
    r"""Turn reST maths into arithmatex's delimiters.

    A ``.. math::`` directive and its indented body become a ``\[ ... \]`` block at the
    directive's indentation; ``:math:`x``` becomes ``\(x\)``.

    Args:
        text: A docstring.

    Returns:
        The docstring with its maths in arithmatex's syntax.
    """
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _MATH_BLOCK.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        indent = match["indent"]
        body = [match["inline"]] if match["inline"] else []
        i += 1
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)
        ):
            body.append(lines[i].strip())
            i += 1
        while body and not body[-1]:
            body.pop()
        while body and not body[0]:
            body.pop(0)
        if out and out[-1].strip():
            out.append("")
        out += [f"{indent}\\[", *(f"{indent}{line}" for line in body), f"{indent}\\]", ""]
    return _MATH_ROLE.sub(lambda m: f"\\({m['tex']}\\)", "\n".join(out))


_ARGS = re.compile(r"^(?P<indent>[ \t]*)(?:Args|Arguments|Parameters):[ \t]*$")
_GROUPED = re.compile(r"^(?P<indent>[ \t]+)(?P<names>\w+(?:,[ \t]*\w+)+):[ \t](?P<text>.*)$")


def split_grouped_args(text: str) -> str:
    """Give each name of a grouped argument entry (``T, norm, rho: ...``, which Google style
    has no syntax for) its own entry: the first keeps the description, the others point to it.

    Args:
        text: A docstring.

    Returns:
        The docstring with one ``Args`` entry per name.
    """
    lines = text.split("\n")
    out: list[str] = []
    section: str | None = None  # the indentation of the current Args section's header
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        header = _ARGS.match(line)
        if header:
            section = header["indent"]
        elif section is not None and line.strip() and _indent(line) <= len(section):
            section = None
        grouped = _GROUPED.match(line) if section is not None else None
        if not grouped:
            out.append(line)
            continue
        first, *others = [n.strip() for n in grouped["names"].split(",")]
        out.append(f"{grouped['indent']}{first}: {grouped['text']}")
        while i < len(lines) and lines[i].strip() and _indent(lines[i]) > len(grouped["indent"]):
            out.append(lines[i])
            i += 1
        out += [f"{grouped['indent']}{n}: Described with ``{first}``." for n in others]
    return "\n".join(out)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _resolve(obj: griffe.Object, name: str) -> str | None:
    """The full path ``name`` refers to, seen from ``obj`` (its scope, then its parents')."""
    if name.startswith("spikegraph"):
        return name
    head, _, rest = name.partition(".")
    scope: Any = obj
    while scope is not None:
        try:
            path = scope.resolve(head)
        except (griffe.NameResolutionError, griffe.AliasResolutionError, AttributeError):
            scope = scope.parent
            continue
        return f"{path}.{rest}" if rest else path
    return None


def xrefs_to_autorefs(text: str, obj: griffe.Object) -> str:
    """Turn reST cross-reference roles into optional autorefs (plain code when unresolved).

    Args:
        text: A docstring.
        obj: The object it documents (the scope names are resolved in).

    Returns:
        The docstring with each role as code, linked where the target is documented.
    """

    def replace(match: re.Match) -> str:
        target = match["target"].strip()
        shown = target.lstrip("~.")
        if target.startswith("~"):
            shown = shown.rsplit(".", 1)[-1]
        code = f"<code>{html.escape(shown)}</code>"
        path = _resolve(obj, target.lstrip("~."))
        if path is None or not path.startswith("spikegraph"):
            return code
        return f'<autoref identifier="{html.escape(path)}" optional>{code}</autoref>'

    return _XREF_ROLE.sub(replace, text)


def _visit_tree(folder: Path, name: str, parent: griffe.Module, loader: griffe.GriffeLoader):
    """Visit the package in ``folder`` (its ``__init__.py`` and every module and subpackage
    below it) as the member ``name`` of ``parent``."""
    init = folder / "__init__.py"
    module = griffe.visit(
        name,
        filepath=init,
        code=init.read_text(encoding="utf-8"),
        parent=parent,
        extensions=loader.extensions,
        docstring_parser=loader.docstring_parser,
        docstring_options=loader.docstring_options,
        lines_collection=loader.lines_collection,
        modules_collection=loader.modules_collection,
    )
    loader.lines_collection[init] = init.read_text(encoding="utf-8").splitlines()
    parent.set_member(name, module)
    for path in sorted(folder.iterdir()):
        if path.is_dir() and (path / "__init__.py").is_file():
            _visit_tree(path, path.name, module, loader)
        elif path.suffix == ".py" and path.name != "__init__.py":
            code = path.read_text(encoding="utf-8")
            loader.lines_collection[path] = code.splitlines()
            module.set_member(
                path.stem,
                griffe.visit(
                    path.stem,
                    filepath=path,
                    code=code,
                    parent=module,
                    extensions=loader.extensions,
                    docstring_parser=loader.docstring_parser,
                    docstring_options=loader.docstring_options,
                    lines_collection=loader.lines_collection,
                    modules_collection=loader.modules_collection,
                ),
            )
    return module


class SpikegraphDocs(griffe.Extension):
    """The zoo as ``spikegraph.samplers``; reST maths and roles for MkDocs."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """Attach the checkout's ``samplers/`` folder to ``spikegraph`` as ``samplers``."""
        if pkg.path != "spikegraph" or ZOO in pkg.members:
            return
        folder = Path(pkg.filepath).parent.parent / ZOO
        if not (folder / "__init__.py").is_file():
            return  # an installed tree: the zoo is already inside the package
        zoo = _visit_tree(folder, ZOO, pkg, loader)
        loader.expand_exports(zoo)
        loader.expand_wildcards(zoo, external=False)

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite the object's docstring's maths and cross-references."""
        if obj.docstring is not None:
            text = split_grouped_args(math_to_arithmatex(obj.docstring.value))
            obj.docstring.value = xrefs_to_autorefs(text, obj)

    def on_module(self, *, mod: griffe.Module, **kwargs: Any) -> None:
        """``on_object`` is not fired for the top-level package itself."""
        if mod.parent is None:
            self.on_object(obj=mod)
