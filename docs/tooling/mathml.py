"""Maths rendered when the site is built: arithmatex's containers become MathML.

``pymdownx.arithmatex`` (generic mode) leaves each formula as TeX in a container,
``<span class="arithmatex">\\(...\\)</span>`` inline and ``<div class="arithmatex">\\[...\\]
</div>`` for a display. :func:`render` replaces the TeX by MathML from ``latex2mathml``, which
browsers draw natively (MathML Core): the pages load no script for their maths, from a CDN
or elsewhere, and read the same offline. The container and its class stay, so the
post-build check can find the rendered maths.
"""

from __future__ import annotations

import html
import re

from latex2mathml.converter import convert

#: An arithmatex container: its tag (span inline, div display) and its escaped TeX.
CONTAINER = re.compile(r'<(?P<tag>span|div) class="arithmatex">(?P<body>.*?)</(?P=tag)>', re.S)
#: The delimiters arithmatex writes (generic mode) for each container's tag.
DELIMITERS = {"span": ("\\(", "\\)"), "div": ("\\[", "\\]")}


def render(page: str) -> tuple[str, list[str]]:
    """Replace the TeX of every arithmatex container in ``page`` by MathML.

    Args:
        page: A page's HTML.

    Returns:
        The HTML with MathML in each container, and one problem (naming the TeX) per formula
        that could not be rendered; such a formula is left as TeX, never dropped.
    """
    problems: list[str] = []

    def one(match: re.Match[str]) -> str:
        tag = match["tag"]
        tex = html.unescape(match["body"]).strip()
        start, end = DELIMITERS[tag]
        if not (tex.startswith(start) and tex.endswith(end)):
            problems.append(f"unexpected delimiters around {tex[:80]!r}")
            return match[0]
        tex = tex[len(start) : -len(end)]
        try:
            mathml = convert(tex, display="block" if tag == "div" else "inline")
        except Exception as error:  # latex2mathml raises several types for bad TeX
            problems.append(f"cannot render {tex[:80]!r}: {error}")
            return match[0]
        return f'<{tag} class="arithmatex">{mathml}</{tag}>'

    return CONTAINER.sub(one, page), problems
