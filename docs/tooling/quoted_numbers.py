"""Numbers the documentation quotes from the committed results, checked against them.

A page quotes a result by writing it followed, with nothing in between, by a marker that
says where it comes from:

    test accuracy 80.98 +- 0.55<!-- from node_classification.json:
        {rows[dataset=Cora,model=sgcn].test_acc_mean*100:.2f} +- {...std*100:.2f} -->

``from FILE: TEMPLATE``: ``FILE`` is a JSON file of ``benchmarks/results/``; ``TEMPLATE`` is
the quoted text with each number written as a field ``{EXPR:FORMAT}``. The check renders the
template from the file and requires the text just before the marker to end with the
rendering. ``FORMAT`` is a Python format spec (``.2f``, ``.1%``...). ``EXPR``:

- a path of keys separated by ``.``: ``ratio.per_step.mean``; a key with dots or spaces in
  quotes, ``firing_rates.'convs.0'``;
- list items by position, ``rows[0]``, by fields, ``rows[dataset=Cora,model=sgcn]`` (string
  comparison; must match exactly one item, except under a function), or all, ``rows[*]``; the
  keys after a list selection apply to each selected item;
- ``min(EXPR)``, ``max(EXPR)``, ``len(EXPR)``, ``count(EXPR)`` (how many are true),
  ``abs(EXPR)``;
- then at most one ``*NUMBER`` or ``/NUMBER`` (e.g. ``*100`` for a percentage).

A number quoted from elsewhere (a paper, a datasheet) is marked ``<!-- quoted: SOURCE -->``
after it, and a number that only looks like a result (a setting, a threshold) is marked
``<!-- not a result: WHAT IT IS -->``; either covers the results-looking numbers since the
previous marker in the same paragraph, and must say its source or reason.

:func:`bare_numbers` finds results-looking numbers no marker covers, in prose (code, links'
targets and comments aside): values with a ``+-``, ratios (``0.056x``), percentages, energies
(``uJ``, ``nJ``, ``pJ``), times (``ms``, decimal seconds), memory (``GiB``, ``MiB``), accuracy
``points``, and decimals with two or more digits after the point. Version numbers
(``2.13.0``) and integers without a unit are not results-looking.

From the shell, ``python docs/tooling/quoted_numbers.py PAGE...`` checks pages, and
``--rewrite`` replaces the numbers before each ``from`` marker by its rendering (a new
number can be written ``??`` before its marker and filled in so; a field that renders a
string, a model's name say, fills in one word). It changes numbers only,
not the words around them: read the change, and the claims it makes, before committing it.

Standard library only: the test suite uses it (``tests/docs/test_quoted_numbers.py``).
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass
from pathlib import Path

#: The committed results.
RESULTS = Path("benchmarks/results")

_MARKER = re.compile(
    r"<!--\s*(?P<kind>from(?=\s)|quoted:|not a result:)\s*(?P<body>.*?)\s*-->", re.DOTALL
)
_ITEM = re.compile(r"\n[ \t]*(?:[-*+]|\d+\.)[ \t]")
_FIELD = re.compile(r"\{(?P<expr>[^{}]+?)(?::(?P<spec>[^{}:]*))?\}")
_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
_RESULT_LIKE = re.compile(
    "|".join(
        [
            rf"{_NUM}\s*(?:\+-|±|\+/-)\s*{_NUM}",  # mean +- std
            rf"{_NUM}(?:\s*[-\u2013]\s*{_NUM})?\s*(?:x|\u00d7)(?![\w-])",  # 0.056x, 1.2-1.3x
            rf"{_NUM}(?:\s*[-\u2013]\s*{_NUM})?\s*(?:%|percent\b)",
            rf"{_NUM}(?:\s*[-\u2013]\s*{_NUM})?\s*(?:uJ|µJ|nJ|pJ|mJ|ms|GiB|MiB|GB|MB)\b",
            rf"{_NUM}(?:\s*[-\u2013]\s*{_NUM})?\s+points?\b",
            r"\d+\.\d+\s*s\b",  # decimal seconds
            r"(?<![\d.])\d+\.\d{2,}(?![\d.])",  # 0.0559, 80.98 (not 2.13.0)
        ]
    )
)


class QuoteError(ValueError):
    """A marker that cannot be read or rendered."""


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, quote, current = [], 0, None, ""
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += ch
    return [*parts, current]


@dataclass
class _Many:
    """Several values, from a list selection: later keys apply to each."""

    items: list


def _select(value, selector: str):
    if not isinstance(value, list):
        raise QuoteError(f"[{selector}] applied to a {type(value).__name__}, not a list")
    if selector == "*":
        return _Many(list(value))
    if re.fullmatch(r"-?\d+", selector):
        return value[int(selector)]
    conditions = []
    for part in selector.split(","):
        match = re.fullmatch(r"\s*(?P<key>[^!=]+?)\s*(?P<op>!=|=)\s*(?P<wanted>.*?)\s*", part)
        if match is None:
            raise QuoteError(f"selector [{selector}]: expected key=value or key!=value items")
        conditions.append((match["key"], match["op"] == "=", match["wanted"]))
    return _Many(
        [
            item
            for item in value
            if isinstance(item, dict)
            and all((str(item.get(k)) == w) == same for k, same, w in conditions)
        ]
    )


def _key(value, key: str):
    if isinstance(value, _Many):
        found = [_key(v, key) for v in value.items]
        return _Many([x for f in found for x in (f.items if isinstance(f, _Many) else [f])])
    if isinstance(value, dict) and "*" in key:
        return _Many([v for k, v in value.items() if fnmatch.fnmatchcase(k, key)])
    if not isinstance(value, dict) or key not in value:
        keys = sorted(value) if isinstance(value, dict) else type(value).__name__
        raise QuoteError(f"no key {key!r} (has {keys})")
    return value[key]


_COMPARE = re.compile(r"(?P<inner>.+?)\s*(?P<op>>=|<=|>|<)\s*(?P<k>-?\d+(?:\.\d+)?)")
_ARITHMETIC = re.compile(r"(?P<inner>.*[^<>=!*/+\-\s])\s*(?P<op>[*/+\-])\s*(?P<k>\d+(?:\.\d+)?)")
_CALL = re.compile(r"(?P<fn>min|max|len|count|abs)\((?P<arg>.+)\)")
_OPS = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
}


def evaluate(expr: str, data):
    """The value of a field's expression in ``data`` (see the module docstring).

    Args:
        expr: The expression.
        data: The parsed JSON file.

    Returns:
        A number (or a string, for a path to one).

    Raises:
        QuoteError: A key, item or function that does not exist, or a selection of more or
            fewer than one value.
    """
    values = evaluate_many(expr, data)
    if len(values) != 1:
        raise QuoteError(f"{expr} selects {len(values)} values; select one, or use min/max/len")
    return values[0]


def evaluate_many(expr: str, data) -> list:
    """The value(s) an expression gives, as a list (one item unless it selects several)."""
    expr = expr.strip()
    for pattern in (_COMPARE, _ARITHMETIC):
        match = pattern.fullmatch(expr)
        if match and match["inner"].count("(") == match["inner"].count(")"):
            k = float(match["k"])
            return [_OPS[match["op"]](v, k) for v in evaluate_many(match["inner"], data)]
    call = _CALL.fullmatch(expr)
    if call:
        values = evaluate_many(call["arg"], data)
        fn = call["fn"]
        if fn == "abs":
            if len(values) != 1:
                raise QuoteError(f"abs() of {len(values)} values")
            return [abs(values[0])]
        if fn in ("min", "max") and not values:
            raise QuoteError(f"{fn}() of nothing: {call['arg']} selects no value")
        return [
            {"min": min, "max": max, "len": len, "count": lambda v: sum(map(bool, v))}[fn](values)
        ]
    value = data
    for segment in _split_top(expr, "."):
        segment = segment.strip()
        match = re.fullmatch(r"(?P<key>'[^']*'|\"[^\"]*\"|[^\[\]]*)(?P<sel>(\[[^\]]*\])*)", segment)
        if match is None:
            raise QuoteError(f"cannot read {segment!r} in {expr!r}")
        key = match["key"]
        if key:
            value = _key(value, key.strip("'\""))
        for selector in re.findall(r"\[([^\]]*)\]", match["sel"]):
            if isinstance(value, _Many):
                flat = []
                for item in value.items:
                    chosen = _select(item, selector)
                    flat += chosen.items if isinstance(chosen, _Many) else [chosen]
                value = _Many(flat)
            else:
                value = _select(value, selector)
    return value.items if isinstance(value, _Many) else [value]


def render(template: str, data) -> str:
    """The template with each ``{EXPR:FORMAT}`` field filled in from ``data``."""

    def fill(match: re.Match) -> str:
        value = evaluate(match["expr"], data)
        try:
            return format(value, match["spec"] or "")
        except (TypeError, ValueError) as error:
            raise QuoteError(f"{{{match[0][1:-1]}}}: {error}") from error

    return _FIELD.sub(fill, template)


@dataclass
class Marker:
    """One marker: where it is, what it says, and the text it covers."""

    page: Path
    line: int
    kind: str
    file: str | None
    template: str
    start: int  # of the covered text, in the page
    end: int  # of the covered text (= the marker's start)


@dataclass
class Check:
    """A page's markers, checked: what disagrees with the results, and bare numbers."""

    markers: list[Marker]
    mismatches: list[str]
    bare: list[str]


def _masked(text: str) -> str:
    """The page with code, comments and link targets blanked out (offsets kept)."""

    def blank(match: re.Match) -> str:
        return re.sub(r"[^\n]", " ", match[0])

    text = re.sub(r"^( *)(```+).*?^\1\2[ \t]*$", blank, text, flags=re.MULTILINE | re.DOTALL)
    text = re.sub(r"^(?: {4}|\t).*$", blank, text, flags=re.MULTILINE)  # indented code
    text = re.sub(r"<!--.*?-->", blank, text, flags=re.DOTALL)
    text = re.sub(r"(`+)(?:(?!\1).)+?\1", blank, text, flags=re.DOTALL)
    text = re.sub(r"\]\([^)]*\)", blank, text)
    text = re.sub(r"arXiv:?\s*\d{4}\.\d{4,5}", blank, text)  # a paper's id
    return text


def _from_marker(body: str, checkout: Path, cache: dict[str, object]) -> tuple[str, str, str]:
    """A ``from`` marker's file, template (spaces normalised) and rendering; ``cache`` holds
    the results files read so far.

    Raises:
        QuoteError: for a body not of the form ``FILE: TEMPLATE``, or one that does not
            render (a missing or unreadable file included), naming the file.
    """
    file, colon, template = body.partition(":")
    file, template = file.strip(), " ".join(template.split())
    if not colon or not template:
        raise QuoteError(f"expected `from FILE: TEMPLATE`, got {body!r}")
    try:
        if file not in cache:
            cache[file] = json.loads((checkout / RESULTS / file).read_text(encoding="utf-8"))
        return file, template, render(template, cache[file])
    except (OSError, json.JSONDecodeError, QuoteError, IndexError) as error:
        raise QuoteError(f"{file}: {error}") from error


def check_page(page: Path, checkout: Path) -> Check:
    """Render every ``from`` marker of a page and compare; find bare results-looking numbers.

    Args:
        page: A Markdown file.
        checkout: The repository's root (where ``benchmarks/results`` is).

    Returns:
        A :class:`Check`.
    """
    text = page.read_text(encoding="utf-8")
    masked = _masked(text)
    markers: list[Marker] = []
    mismatches: list[str] = []
    cache: dict[str, object] = {}
    previous_end = 0
    for match in _MARKER.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        where = f"{page.name}:{line}"
        # a paragraph, or the list item the marker is in (a table stays one paragraph)
        paragraph = max(
            [
                text.rfind("\n\n", 0, match.start()) + 2,
                *(m.start() + 1 for m in _ITEM.finditer(text, 0, match.start())),
            ]
        )
        if match["kind"] != "from":
            if not match["body"].strip():
                mismatches.append(f"{where}: `{match['kind']}` must be followed by a reason")
            start = max(previous_end, paragraph)
            kind = match["kind"].rstrip(":")
            markers.append(Marker(page, line, kind, None, match["body"], start, match.start()))
            previous_end = match.end()
            continue
        try:
            file, template, expected = _from_marker(match["body"], checkout, cache)
        except QuoteError as error:
            mismatches.append(f"{where}: {error}")
            continue
        window = text[max(0, match.start() - 4 * len(expected) - 200) : match.start()]
        said = " ".join(window.split())
        want = " ".join(expected.split())
        if not window or window[-1].isspace() or not said.endswith(want):
            mismatches.append(
                f"{where}: the page says {said[-len(want) - 12 :]!r} just before the marker; "
                f"{file} gives {want!r}"
            )
            continue
        # the covered text: the rendering, however the page wraps it
        start, left = match.start(), len(want.replace(" ", ""))
        while left > 0 and start > 0:
            start -= 1
            if not text[start].isspace():
                left -= 1
        markers.append(Marker(page, line, "from", file, template, start, match.start()))
        previous_end = match.end()
    spans = [(m.start, m.end) for m in markers]
    bare = []
    for found in _RESULT_LIKE.finditer(masked):
        if not any(s <= found.start() and found.end() <= e for s, e in spans):
            line = text.count("\n", 0, found.start()) + 1
            bare.append(f"{page.name}:{line}: {found[0]!r}")
    return Check(markers, mismatches, bare)


#: What a template's field may stand in for on a page: a number as a results file renders it,
#: or ``??``, a placeholder for a number not filled in yet.
_SLOT = r"(?:[-+]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+|nan|inf|\?\?)"


#: What a field whose value is a string (a model's name, ``raw``) may stand in for: one word
#: (no spaces, brackets or table pipes), or ``??``.
_WORD_SLOT = r"(?:[^\s()\[\]|<>]+)"


def _shape(template: str, data=None) -> re.Pattern:
    """A pattern of the text a template renders to, with any numbers in its fields (and any
    one word in a field that ``data`` gives a string for): what :func:`rewrite_page`
    replaces (the template's own text must match, spaces aside)."""
    parts, last = [], 0
    for field in _FIELD.finditer(template):
        literal = template[last : field.start()]
        parts.append(r"\s+".join(re.escape(word) for word in literal.split(" ")))
        word = data is not None and isinstance(evaluate(field["expr"], data), str)
        parts.append(_WORD_SLOT if word else _SLOT)
        last = field.end()
    parts.append(r"\s+".join(re.escape(word) for word in template[last:].split(" ")))
    return re.compile("".join(parts) + r"\Z")


def rewrite_page(page: Path, checkout: Path) -> tuple[str, int, list[str]]:
    """The page with the number(s) before each ``from`` marker replaced by the marker's
    rendering from the committed results (``??`` fills in a new one).

    Only the text in the template's shape just before a marker changes: the words around a
    number are the page's, and a claim they make is not checked. Read the changes before
    committing them.

    Returns:
        ``(text, changed, problems)``: the new text, how many markers' text changed, and the
        markers that were left as they were (the text before them is not in the template's
        shape, or the template does not render), each named.
    """
    text = page.read_text(encoding="utf-8")
    cache: dict[str, object] = {}
    edits: list[tuple[int, int, str]] = []
    problems: list[str] = []
    for match in _MARKER.finditer(text):
        if match["kind"] != "from":
            continue
        where = f"{page.name}:{text.count(chr(10), 0, match.start()) + 1}"
        try:
            file, template, expected = _from_marker(match["body"], checkout, cache)
        except QuoteError as error:
            problems.append(f"{where}: {error}")
            continue
        window_start = max(0, match.start() - 4 * len(expected) - 200)
        found = _shape(template, cache[file]).search(text, window_start, match.start())
        if found is None:
            problems.append(f"{where}: no text in the shape of {template!r} before the marker")
            continue
        if " ".join(found[0].split()) != " ".join(expected.split()):
            edits.append((found.start(), found.end(), expected))
    for start, end, new in reversed(edits):
        text = text[:start] + new + text[end:]
    return text, len(edits), problems


def main(argv: list[str] | None = None) -> int:
    """``python docs/tooling/quoted_numbers.py [--rewrite] PAGE...``: check pages (exit 1 on a
    mismatch or a bare number), or rewrite their quoted numbers from the committed results."""
    import argparse

    p = argparse.ArgumentParser(description=main.__doc__.split("\n")[0])
    p.add_argument("pages", nargs="+", type=Path)
    p.add_argument("--rewrite", action="store_true", help="write each marker's rendering")
    p.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parents[2],
                   help="the repository whose benchmarks/results the markers name "
                   "(default: this file's)")  # fmt: skip
    args = p.parse_args(argv)
    checkout = args.checkout
    failed = False
    for page in args.pages:
        if args.rewrite:
            text, changed, problems = rewrite_page(page, checkout)
            page.write_text(text, encoding="utf-8")
            print(f"{page}: {changed} quoted number(s) rewritten")
        else:
            check = check_page(page, checkout)
            problems = check.mismatches + [f"bare number {b}" for b in check.bare]
        failed |= bool(problems)
        for problem in problems:
            print(f"  {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
