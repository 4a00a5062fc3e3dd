"""Numbers quoted in the documentation come from the committed results: every marker of
docs/tooling/quoted_numbers.py renders to the text it follows, and no results-looking number
goes without a marker."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_tool():
    spec = importlib.util.spec_from_file_location(
        "spikegraph_docs_quoted_numbers", ROOT / "docs" / "tooling" / "quoted_numbers.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


q = load_tool()

#: Pages not checked for bare numbers, each with the reason. Their markers are still checked.
UNMARKED: dict[str, str] = {}
PAGES = sorted(
    [p for p in (ROOT / "docs").rglob("*.md") if "reference" not in p.parts] + [ROOT / "README.md"]
)


def page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_quoted_numbers_are_the_committed_results(page):
    check = q.check_page(page, ROOT)
    assert not check.mismatches, "\n".join(check.mismatches)
    if page.name in UNMARKED:
        assert check.bare, f"{page.name} needs no exemption any more: remove it from UNMARKED"
        return
    assert not check.bare, (
        "results-looking numbers without a marker (see docs/tooling/quoted_numbers.py: "
        "`<!-- from FILE: TEMPLATE -->` after a number from benchmarks/results/, "
        "`<!-- quoted: SOURCE -->` or `<!-- not a result: WHY -->` otherwise):\n"
        + "\n".join(check.bare)
    )


def test_the_docs_do_quote_results():
    """The check has something to check: the README and the cost page quote results."""
    counts = {p.name: len(q.check_page(p, ROOT).markers) for p in PAGES}
    assert counts["README.md"] >= 30 and counts["cost.md"] >= 10, counts
    kinds = {m.kind for p in PAGES for m in q.check_page(p, ROOT).markers}
    assert kinds == {"from", "quoted", "not a result"}


DATA = {
    "rows": [
        {"dataset": "Cora", "model": "gcn", "acc": 0.8110, "std": 0.0055},
        {"dataset": "Cora", "model": "sgcn", "acc": 0.8098, "std": 0.0055},
        {"dataset": "PubMed", "model": "sgcn", "acc": 0.789, "std": 0.0052},
    ],
    "ratios": {"a/blocks": 1.21, "b/blocks": 1.33, "a/subgraph": 3.4},
    "convs.0": {"rate": 0.25},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{rows[dataset=Cora,model=sgcn].acc*100:.2f} +- {rows[1].std*100:.2f}", "80.98 +- 0.55"),
        ("{min(rows[*].acc)*100:.1f}-{max(rows[model=sgcn].acc)*100:.1f}", "78.9-81.0"),
        ("{len(rows[dataset!=Cora])} of {len(rows[*])}", "1 of 3"),
        ("{count(rows[*].acc>=0.8)}", "2"),
        ("{max(ratios.'*/blocks'):.2f}x, {min(ratios.*):.2f}x", "1.33x, 1.21x"),
        ("{'convs.0'.rate:.0%}", "25%"),
        ("{abs(rows[0].acc-1):.3f}", "0.189"),
    ],
)
def test_templates_render(template, expected):
    assert q.render(template, DATA) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{rows[dataset=Cora].acc}", "selects 2 values"),
        ("{rows[dataset=CiteSeer].acc}", "selects 0 values"),
        ("{rows[0].accuracy}", "no key 'accuracy'"),
        ("{ratios[0]}", "not a list"),
        ("{min(rows[dataset=Nope].acc)}", "min\\(\\) of nothing"),
    ],
)
def test_templates_that_do_not_resolve_are_errors(template, message):
    with pytest.raises(q.QuoteError, match=message):
        q.render(template, DATA)


def write_case(tmp_path: Path, page: str) -> Path:
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    (results / "r.json").write_text('{"rows": [{"model": "sgcn", "acc": 0.8098}], "x": 4.9316}')
    path = tmp_path / "page.md"
    path.write_text(page)
    return path


def test_a_wrong_or_detached_number_is_reported(tmp_path):
    page = write_case(
        tmp_path,
        "Accuracy 80.97<!-- from r.json: {rows[model=sgcn].acc*100:.2f} -->, ratio\n"
        "4.93 <!-- from r.json: {x:.2f} --> and 4.93x<!-- from r.json: {x:.2f}x -->.\n"
        "\nMissing file 1.5x<!-- from nope.json: {x}x -->.\n",
    )
    check = q.check_page(page, tmp_path)
    assert len(check.mismatches) == 3, check.mismatches
    assert "page.md:1: the page says" in check.mismatches[0]
    assert "'80.98'" in check.mismatches[0]
    assert "page.md:2" in check.mismatches[1]  # a space between the number and its marker
    assert "nope.json" in check.mismatches[2]


def test_bare_numbers_are_found_and_versions_are_not(tmp_path):
    page = write_case(
        tmp_path,
        "torch 2.13.0, T=8, 200 epochs, 10 seeds, 45 nm, arXiv 2403.18228, `0.0559`.\n"
        "\n```text\n81.10 +- 0.55\n```\n\n"
        "It costs 0.056x and 64.5 uJ, reaches 80.98 +- 0.55, loses 2 points, adds 16%,\n"
        "takes 2.75 ms or 0.15 s; 4.93<!-- from r.json: {x:.2f} --> is marked.\n"
        "\nSGNNBench: 77.35 and 80.0<!-- quoted: SGNNBench (2025) -->; at most 10%<!-- "
        "not a result: a setting -->.\n\n- 0.5x\n- 3x<!-- quoted: elsewhere -->\n"
        "\nEmpty reason 1.5x<!-- quoted: -->.\n",
    )
    check = q.check_page(page, tmp_path)
    found = [b.split(": ", 1)[1] for b in check.bare]
    assert found == [
        "'0.056x'",
        "'64.5 uJ'",
        "'80.98 +- 0.55'",
        "'2 points'",
        "'16%'",
        "'2.75 ms'",
        "'0.15 s'",
        "'0.5x'",  # a marker covers its own list item only
    ]
    assert check.mismatches == ["page.md:15: `quoted:` must be followed by a reason"]


def test_rewrite_fills_in_a_string_field_as_one_word(tmp_path):
    """A field that renders a string (a model's name, a preprocessing) replaces the one word
    before the marker, or its ``??``; the words around it stay."""
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "results" / "s.json").write_text(
        json.dumps({"cell": "lif-sgat", "acc": 0.8204, "features": "row-normalised"})
    )
    page = tmp_path / "page.md"
    page.write_text(
        "| Cora | sgat<!-- from s.json: {cell} --> | ?? (raw)<!-- from s.json: "
        "{acc*100:.2f} ({features}) --> |\nand ??<!-- from s.json: {cell} --> here\n"
    )
    text, changed, problems = q.rewrite_page(page, tmp_path)
    assert (changed, problems) == (3, [])
    assert text == (
        "| Cora | lif-sgat<!-- from s.json: {cell} --> | 82.04 (row-normalised)<!-- from "
        "s.json: {acc*100:.2f} ({features}) --> |\nand lif-sgat<!-- from s.json: {cell} --> "
        "here\n"
    )
    page.write_text(text)
    assert q.check_page(page, tmp_path).mismatches == []


def test_rewrite_fills_in_the_committed_numbers_and_nothing_else(tmp_path):
    """Stale numbers and ``??`` placeholders take the marker's rendering, however the page
    wraps them; the words around them stay; text not in the template's shape is named and
    left alone; the rewritten page then checks clean."""
    page = write_case(
        tmp_path,
        "Accuracy 79.01<!-- from r.json: {rows[model=sgcn].acc*100:.2f} --> on Cora; mean\n"
        "?? +- ??<!-- from r.json: {x:.1f} +- {x:.3f} -->\n"
        "and 12.0x<!-- from r.json: {x:.2f}x -->,\n"
        "already 4.93<!-- from r.json: {x:.2f} -->.\n"
        "\nNo number here<!-- from r.json: {x:.2f} -->, nor 5.1x<!-- from r.json: {x:.1f} s -->.\n",
    )
    text, changed, problems = q.rewrite_page(page, tmp_path)
    assert changed == 3
    assert text.startswith(
        "Accuracy 80.98<!-- from r.json: {rows[model=sgcn].acc*100:.2f} --> on Cora; mean\n"
        "4.9 +- 4.932<!-- from r.json: {x:.1f} +- {x:.3f} -->\nand 4.93x<!-- from r.json: "
    )
    assert "already 4.93<!--" in text and "No number here<!--" in text and "5.1x<!--" in text
    assert [p.split(": ", 1)[1] for p in problems] == [
        "no text in the shape of '{x:.2f}' before the marker",
        "no text in the shape of '{x:.1f} s' before the marker",
    ]
    page.write_text("\n".join(text.splitlines()[:4]) + "\n")
    assert q.check_page(page, tmp_path).mismatches == []
    assert q.main([str(page), "--checkout", str(tmp_path)]) == 0
