"""The site's maths is rendered as MathML when it is built (docs/tooling/mathml.py), so the
pages load no MathJax from a CDN; the docs toolchain (docs/requirements.txt) brings
latex2mathml, and CI's strict site build checks every page this way."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("latex2mathml", reason="the docs toolchain (docs/requirements.txt)")


def load_tool():
    spec = importlib.util.spec_from_file_location(
        "spikegraph_docs_mathml", ROOT / "docs" / "tooling" / "mathml.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


mathml = load_tool()


def test_inline_and_display_maths_become_mathml():
    page = (
        '<p><span class="arithmatex">\\(x &lt; \\frac{1}{2}\\)</span></p>'
        '<div class="arithmatex">\\[\nU_t = k U_{t-1}\n\\]</div>'
    )
    out, problems = mathml.render(page)
    assert problems == []
    assert "\\(" not in out and "\\[" not in out
    assert out.count("<math ") == 2
    assert 'display="inline"' in out and 'display="block"' in out
    assert "<mo>&#x0003C;</mo>" in out  # the escaped '<' was read as TeX's '<'
    assert "<mfrac>" in out


def test_unexpected_delimiters_are_reported_and_the_tex_kept():
    page = '<span class="arithmatex">$x$</span>'
    out, problems = mathml.render(page)
    assert out == page
    assert len(problems) == 1 and "'$x$'" in problems[0]


def test_the_site_loads_no_maths_script():
    config = (ROOT / "mkdocs.yml").read_text()
    assert "mathjax" not in config.lower()
    assert "extra_javascript" not in config
