"""MkDocs hooks of the documentation site (``hooks:`` in ``mkdocs.yml``).

- The committed benchmark results (``benchmarks/results/*.md``) become pages of the site,
  ``results/<name>/``, so the guides can link the tables they quote.
- Each page's maths becomes MathML as the page is built (``docs/tooling/mathml.py``): the
  site loads no script for it; a formula that cannot be rendered is a warning.
- After the build, every entry the reference pages ask for (``docs/tooling/public_api.py``)
  must be in the built HTML, and the reference must contain rendered maths and no TeX left
  unrendered: a missing one is a warning, which ``mkdocs build --strict`` turns into a
  failed build.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

from mkdocs.structure.files import File, Files

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mathml
import public_api

log = logging.getLogger("mkdocs.hooks.spikegraph")

#: The repository's root (this file is docs/tooling/hooks.py).
CHECKOUT = Path(__file__).resolve().parents[2]
#: The committed results, and where their pages go on the site.
RESULTS = CHECKOUT / "benchmarks" / "results"
SITE_RESULTS = "results"
#: A formula rendered by :func:`on_page_content` (MathML inside arithmatex's container).
RENDERED_MATH = '<span class="arithmatex"><math '


def on_files(files: Files, config) -> Files:
    """Add every committed results table as ``results/<name>.md``."""
    for table in sorted(RESULTS.glob("*.md")):
        files.append(
            File.generated(
                config, f"{SITE_RESULTS}/{table.name}", content=table.read_text(encoding="utf-8")
            )
        )
    return files


def on_page_content(html: str, page, config, files) -> str:
    """Render the page's maths as MathML; a formula that cannot be rendered is a warning."""
    html, problems = mathml.render(html)
    for problem in problems:
        log.warning("maths in %s: %s", page.file.src_uri, problem)
    return html


def on_post_build(config) -> None:
    """Check that the reference rendered every entry it lists, and rendered maths."""
    site = Path(config["site_dir"]) / "reference"
    pages = {p: p.read_text(encoding="utf-8") for p in site.rglob("*.html")}
    html = "\n".join(pages.values())
    report = public_api.coverage(CHECKOUT)
    missing = [path for path in report.documented if f'id="{path}"' not in html]
    for path in missing:
        log.warning("API reference: no entry for %s was rendered", path)
    for problem in (*report.modules_missing, *report.names_missing, *report.not_public):
        log.warning("API reference: incomplete (%s); see tests/docs/test_reference.py", problem)
    if RENDERED_MATH not in html:
        log.warning("API reference: no rendered maths (%s) in %s", RENDERED_MATH, site)
    unrendered = [m[0][:80] for m in mathml.CONTAINER.finditer(html) if "<math " not in m[0]]
    for tex in unrendered:
        log.warning("API reference: maths left as TeX: %s", tex)
    leftovers = [
        p.name
        for p, text in pages.items()
        if any(s in re.sub(r"<code>.*?</code>", "", text) for s in (".. math::", ":math:`"))
    ]
    for page in leftovers:
        log.warning("API reference: reST maths left unconverted in %s", page)
    log.info(
        "API reference: %d entries rendered, %d public names covered",
        len(report.documented) - len(missing),
        len(report.public),
    )
