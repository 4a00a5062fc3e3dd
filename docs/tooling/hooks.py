"""MkDocs hooks of the documentation site (``hooks:`` in ``mkdocs.yml``).

- The committed benchmark results (``benchmarks/results/*.md``) become pages of the site,
  ``results/<name>/``, so the guides can link the tables they quote.
- After the build, every entry the reference pages ask for (``docs/tooling/public_api.py``)
  must be in the built HTML, and the reference must contain rendered maths: a missing one is
  a warning, which ``mkdocs build --strict`` turns into a failed build.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

from mkdocs.structure.files import File, Files

sys.path.insert(0, str(Path(__file__).resolve().parent))

import public_api

log = logging.getLogger("mkdocs.hooks.spikegraph")

#: The repository's root (this file is docs/tooling/hooks.py).
CHECKOUT = Path(__file__).resolve().parents[2]
#: The committed results, and where their pages go on the site.
RESULTS = CHECKOUT / "benchmarks" / "results"
SITE_RESULTS = "results"
#: What arithmatex writes around rendered maths (``generic: true``).
MATH_CONTAINER = 'class="arithmatex"'


def on_files(files: Files, config) -> Files:
    """Add every committed results table as ``results/<name>.md``."""
    for table in sorted(RESULTS.glob("*.md")):
        files.append(
            File.generated(
                config, f"{SITE_RESULTS}/{table.name}", content=table.read_text(encoding="utf-8")
            )
        )
    return files


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
    if MATH_CONTAINER not in html:
        log.warning("API reference: no rendered maths (%s) in %s", MATH_CONTAINER, site)
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
