"""Shared plumbing of the benchmark scripts: configs, output folders, provenance, result
files, child processes, timing.

Where results go (the same for every script): ``--out DIR`` writes into ``DIR`` (any folder
but the committed results folder itself, which takes ``--update-results``);
``--update-results`` writes into ``benchmarks/results/`` (the committed results); without
either, a run writes into the scratch folder ``benchmarks/results/local/`` (ignored by git)
and a ``--quick`` smoke run writes nothing. A run that would drop rows of the results file
in its folder, or replace rows measured with other settings, is refused before it starts
(:func:`check_rows_kept`).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue as queue_module
import re
import shlex
import statistics
import subprocess
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from spikegraph import config as config_module
from spikegraph._provenance import checkout_commit

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
#: Where a run writes without ``--out`` or ``--update-results`` (ignored by git).
SCRATCH = RESULTS / "local"
CONFIGS = HERE / "configs"
#: Provenance of run records written before runs carried their own.
FROM_HEADER = "the results file's header (not recorded per run)"


class BenchmarkChildError(RuntimeError):
    """A benchmark's child process failed; the message carries its traceback."""


# ----------------------------------------------------------------------------- configs
def load_config(name: str = "node_classification") -> dict[str, Any]:
    """Read and check ``benchmarks/configs/<name>.toml`` (:func:`spikegraph.config.load_config`;
    its ``ablation`` table is this package's)."""
    return config_module.load_config(CONFIGS / f"{name}.toml", config_module.OTHER_TABLES)


model_config = config_module.model_config


def check_names(
    parser: argparse.ArgumentParser, option: str, values: Iterable[str], known: Iterable[str]
) -> list[str]:
    """``values`` spelt as in ``known`` (case-insensitive); an unknown one is a usage error
    (exit 2) naming it and listing the known ones, before anything runs."""
    by_lower = {k.lower(): k for k in known}
    out = []
    for value in values:
        if str(value).lower() not in by_lower:
            parser.error(
                f"{option}: unknown name {value!r}; expected one of {sorted(by_lower.values())}"
            )
        out.append(by_lower[str(value).lower()])
    return out


# ----------------------------------------------------------------------------- output folder
def add_output_options(parser: argparse.ArgumentParser) -> None:
    """``--out DIR`` and ``--update-results`` (one or neither)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="write the results into DIR (default: the scratch folder benchmarks/results/local/, "
        "ignored by git; --quick: nowhere); benchmarks/results/ itself takes --update-results",
    )
    group.add_argument(
        "--update-results",
        action="store_true",
        help="write into benchmarks/results/, replacing the committed results",
    )


def output_dir(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Path | None:
    """The folder a run writes into (``None``: nowhere), said on stdout.

    ``--out`` naming the committed results folder (however spelt: relative, with ``..``,
    through a link) is ``--update-results`` in disguise: it is refused, with ``--quick`` as
    with ``--update-results``, and without it in favour of ``--update-results``. A folder
    inside it (``--out benchmarks/results/pending/NAME``) is a folder like any other."""
    quick = getattr(args, "quick", False)
    if args.out:
        out = Path(args.out)
        if out.resolve() == RESULTS.resolve():
            if quick:
                parser.error(
                    f"--out {args.out} is the committed results folder, and --quick is a smoke "
                    "run: it never replaces the committed results"
                )
            parser.error(
                f"--out {args.out} is the committed results folder: give --update-results "
                "(instead of --out) to replace the committed results, or --out another folder"
            )
    elif args.update_results:
        if quick:
            parser.error("--quick is a smoke run: it never replaces the committed results")
        out = RESULTS
    elif quick:
        print("--quick: writing no results files (give --out DIR to keep them)", flush=True)
        return None
    else:
        out = SCRATCH
    if out.exists() and not out.is_dir():
        parser.error(f"--out: {out} exists and is not a folder")
    note = {
        SCRATCH.resolve(): " (scratch folder, ignored by git; --update-results replaces the "
        "committed results, --out DIR writes elsewhere)",
        RESULTS.resolve(): " (the committed results)",
    }.get(out.resolve(), "")
    print(f"results go to {out}{note}", flush=True)
    return out


def read_results(path: Path) -> dict[str, Any] | None:
    """The JSON results file at ``path``, ``None`` if absent; a clear error if unreadable."""
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a readable results file ({err})") from None
    if not isinstance(record, dict):
        raise ValueError(f"{path}: not a results file (a JSON object is expected)")
    return record


def check_rows_kept(
    parser: argparse.ArgumentParser,
    out: Path | None,
    stem: str,
    planned: Iterable[str] | Mapping[str, Any],
    keys_of: Callable[[dict[str, Any]], Iterable[str] | Mapping[str, Any]],
) -> None:
    """Refuse, before anything runs, a run whose results file would drop rows of the file
    already in ``out`` (the rows of one measurement session are not merged with another's).

    Args:
        parser: the script's parser; a refusal is its usage error (exit 2).
        out: the folder the run writes into (``None``: nowhere, nothing to check).
        stem: the results file's name, less ``.json``.
        planned: the rows the run writes: their names, or a mapping of each name to the
            settings it is measured with (a JSON-able value).
        keys_of: the rows of a results file, as ``planned`` gives them (names, or names and
            the settings they were measured with).

    With settings, a row of the file measured with settings other than this run's counts as
    another row: writing would replace it (a ``--quick`` run's one seed and few epochs in
    place of a full run's), and it is refused too, naming what differs. Settings compare as
    the file holds them (JSON: tuples as lists, keys as strings).
    """
    if out is None:
        return
    path = out / f"{stem}.json"
    try:
        existing = read_results(path)
        have = _rows_with_settings(keys_of(existing)) if existing else {}
    except (KeyError, TypeError, ValueError) as err:
        parser.error(f"{path}: cannot tell which rows it holds ({err}); remove it or use --out")
    want = _rows_with_settings(planned)
    dropped = sorted(set(have) - set(want))
    changed: dict[str, list[str]] = {}  # rows of the file measured otherwise, by difference
    for name in have:
        if name in want and have[name] != want[name]:
            changed.setdefault(_differences(have[name], want[name]), []).append(name)
    problems = []
    if dropped:
        problems.append(
            f"{path} holds results for {dropped}, which this run does not measure: writing it "
            "would drop them."
        )
    for difference, names in changed.items():
        problems.append(
            f"{path} holds {names} measured with other settings ({difference}): writing it "
            "would replace them with rows of this run's settings."
        )
    if problems:
        parser.error(
            " ".join(problems)
            + " To keep the file's rows, measure them too, with the file's settings; else "
            "write elsewhere (--out DIR) or remove the file."
        )


def _rows_with_settings(rows: Iterable[str] | Mapping[str, Any]) -> dict[str, Any]:
    """``{name: settings}`` of rows given by name (settings ``None``) or by a mapping, the
    settings as a JSON file holds them."""
    if isinstance(rows, Mapping):
        return {str(k): json.loads(json.dumps(v, sort_keys=True)) for k, v in rows.items()}
    return dict.fromkeys(map(str, rows))


def _differences(have: Any, want: Any) -> str:
    """What differs between a row's settings in the file (``have``) and in this run."""
    if isinstance(have, dict) and isinstance(want, dict):
        missing = "not recorded"
        return "; ".join(
            f"{k}={have.get(k, missing)!r} in the file, {k}={want.get(k, missing)!r} in this run"
            for k in sorted({*have, *want})
            if have.get(k, missing) != want.get(k, missing)
        )
    return f"{have!r} in the file, {want!r} in this run"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder (fsync,
    ``os.replace``): a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_results(stem: str, record: dict[str, Any], markdown: str, out_dir: Path) -> None:
    """Write ``<stem>.json`` and ``<stem>.md`` into ``out_dir`` (atomically)."""
    atomic_write_text(out_dir / f"{stem}.json", json.dumps(record, indent=2) + "\n")
    atomic_write_text(out_dir / f"{stem}.md", markdown)
    print(f"wrote {out_dir / stem}.json and .md", flush=True)


def publish(stem: str, record: dict[str, Any], markdown: str, out_dir: Path | None) -> None:
    """Print a run's ``markdown`` and, unless ``out_dir`` is ``None`` (a ``--quick`` run
    without ``--out``), write it with ``record`` as ``<stem>.md`` and ``<stem>.json``."""
    print(markdown)
    if out_dir is not None:
        write_results(stem, record, markdown, out_dir)


def append_run(path: Path, record: dict[str, Any]) -> None:
    """Append one run record as a line of ``path`` (flushed to disk before returning)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_runs(path: Path) -> list[dict[str, Any]]:
    """The run records of a ``.jsonl`` log. A last line cut short (a run killed while
    writing) is skipped with a warning, its run redone; any other bad line is an error."""
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    runs = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError as err:
            if i == len(lines):
                print(f"warning: {path}:{i} is cut short ({err}); that run is redone", flush=True)
                continue
            raise ValueError(f"{path}:{i}: not a run record ({err})") from None
    return runs


# ----------------------------------------------------------------------------- provenance
#: An argument naming an absolute path: an option's ``--name=`` or a URL's ``scheme:///``
#: (``sqlite:////abs/file.db``) before it, or nothing.
_ABSOLUTE_PATH = re.compile(r"^(--[\w-]+=|[a-z][\w+.-]*:///)?(/.*)$")


def command_line(script: str, argv: Iterable[str]) -> str:
    """``python benchmarks/<script> <argv>``, as a user would type it, with each absolute
    path replaced by ``<local>/<its last name>``: the recorded command goes into committed
    results, which must not name folders of the machine that ran it (a scratch database, a
    data folder)."""

    def recorded(arg: str) -> str:
        absolute = _ABSOLUTE_PATH.match(arg)
        if absolute is None:
            return shlex.quote(arg)
        prefix, path = absolute.groups()
        name = PurePosixPath(path).name
        placeholder = "<local>/" + shlex.quote(name) if name else "<local>"
        return (shlex.quote(prefix) if prefix else "") + placeholder

    return " ".join(["python", f"benchmarks/{script}", *map(recorded, argv)])


def git_commit() -> str | None:
    """The commit of the spikegraph checkout these benchmarks belong to (``+ uncommitted
    changes`` when files other than ``benchmarks/results/`` differ from it), if any."""
    return checkout_commit(HERE.parent)


def library_commit() -> str | None:
    """The last commit that changed the library (``spikegraph/``, ``pyproject.toml``), with
    ``+ uncommitted changes`` when they differ from it: what a training run's numbers depend
    on besides its own settings. A run log keyed by it stays valid across commits that change
    only benchmarks, tests, docs or results."""
    root = HERE.parent
    paths = ["--", "spikegraph", "pyproject.toml"]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = git("log", "-1", "--format=%H", *paths)
        dirty = git("status", "--porcelain", "--untracked-files=no", *paths)
    except (OSError, subprocess.SubprocessError):
        return None
    return (commit or None) and commit + (" + uncommitted changes" if dirty else "")


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def provenance(command: str) -> dict[str, Any]:
    """The command, machine, date and spikegraph commit a result was obtained with."""
    from spikegraph.experiments import machine_info

    return {
        "command": command,
        "machine": machine_info(),
        "date": now(),
        "git_commit": git_commit(),
    }


def machine_md(m: dict[str, Any] | None) -> str:
    if not m:
        return "unknown"
    fields = ("platform", "processor", "cpu_count", "torch_threads", "python", "torch")
    if not all(k in m for k in fields):
        return ", ".join(f"{k} {v}" for k, v in m.items())
    return (
        f"{m['platform']}, {m['processor']}, {m['cpu_count']} CPUs "
        f"({m['torch_threads']} torch threads), Python {m['python']}, torch {m['torch']}"
    )


def provenance_md(prov: dict[str, Any]) -> str:
    """Markdown lines of one session's provenance."""
    lines = (
        f"- command: `{prov['command']}`\n"
        f"- machine: {machine_md(prov['machine'])}\n"
        f"- date: {prov['date']}\n"
    )
    if prov.get("git_commit"):
        lines += f"- spikegraph commit: {prov['git_commit']}\n"
    return lines


def legacy_provenance(header: dict[str, Any] | None) -> dict[str, Any]:
    """Provenance of run records that carry none: the one of the results file they were
    summarised in, marked as such (or unknown, without a results file)."""
    if header:
        return {**header, "from": FROM_HEADER}
    return {
        "command": None,
        "machine": None,
        "date": None,
        "from": "unknown: the run carries no provenance and no results file was found",
    }


def group_provenance(runs: Iterable[tuple[str, int, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The distinct provenances of ``(row, seed, provenance)`` triples: each with its date
    range and the seeds of each row it produced (first seen first)."""
    groups: dict[str, dict[str, Any]] = {}
    for row, seed, prov in runs:
        g = groups.setdefault(
            _identity(prov),
            {
                **{k: v for k, v in prov.items() if k != "date"},
                "first_date": prov.get("date"),
                "last_date": prov.get("date"),
                "rows": {},
            },
        )
        date = prov.get("date")
        if date is not None:
            g["first_date"] = min(filter(None, [g["first_date"], date]))
            g["last_date"] = max(filter(None, [g["last_date"], date]))
        g["rows"].setdefault(row, []).append(seed)
    return list(groups.values())


def _identity(prov: dict[str, Any]) -> str:
    skip = ("date", "first_date", "last_date", "rows")
    return json.dumps({k: v for k, v in prov.items() if k not in skip}, sort_keys=True)


def merge_groups(groups: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge provenance groups (of several rows) that share a provenance."""
    out: dict[str, dict[str, Any]] = {}
    for g in groups:
        m = out.setdefault(_identity(g), {**g, "rows": {}})
        firsts = [d for d in (m["first_date"], g["first_date"]) if d]
        lasts = [d for d in (m["last_date"], g["last_date"]) if d]
        m["first_date"], m["last_date"] = min(firsts, default=None), max(lasts, default=None)
        for row, seeds in g["rows"].items():
            m["rows"].setdefault(row, [])
            m["rows"][row] += [s for s in seeds if s not in m["rows"][row]]
    return list(out.values())


def seeds_md(seeds: list) -> str:
    """``seeds 100-109`` for a run of consecutive seeds, else the seeds listed."""
    seeds = sorted(seeds, key=str)
    ints = all(isinstance(s, int) for s in seeds)
    if ints and len(seeds) > 2 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"seeds {seeds[0]}-{seeds[-1]}"
    return "seed " + str(seeds[0]) if len(seeds) == 1 else "seeds " + ", ".join(map(str, seeds))


def sources_md(groups: list[dict[str, Any]]) -> str:
    """Markdown list of the distinct provenances of the runs shown."""
    lines = ["Runs shown, by the command, machine and date that produced them:", ""]
    for i, g in enumerate(groups, 1):
        if g["first_date"] == g["last_date"]:
            dates = str(g["first_date"])
        else:
            dates = f"{g['first_date']} to {g['last_date']}"
        rows = "; ".join(f"{row} ({seeds_md(seeds)})" for row, seeds in g["rows"].items())
        lines.append(f"{i}. command: `{g['command']}`")
        lines.append(f"   - machine: {machine_md(g.get('machine'))}")
        lines.append(f"   - date: {dates}")
        if g.get("git_commit"):
            lines.append(f"   - spikegraph commit: {g['git_commit']}")
        if g.get("from"):
            lines.append(f"   - provenance from {g['from']}")
        if g.get("note"):
            lines.append(f"   - note: {g['note']}")
        lines.append(f"   - runs: {rows}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- child processes
def _child_main(target: Callable[[dict, Any], None], job: dict[str, Any], queue: Any) -> None:
    """Run ``target(job, queue)``; then ``None``, or the traceback if it raised."""
    try:
        target(job, queue)
    except BaseException:
        queue.put({"__child_error__": traceback.format_exc()})
        queue.close()
        queue.join_thread()
        raise SystemExit(1) from None
    queue.put(None)


def run_in_child(
    target: Callable[[dict, Any], None],
    job: dict[str, Any],
    label: str,
    context: str = "spawn",
    poll_s: float = 1.0,
) -> Iterator[Any]:
    """Run ``target(job, queue)`` in a fresh process and yield what it puts on the queue.

    Raises:
        BenchmarkChildError: if the child raises (with its traceback) or dies without a word
            (with its exit code), as soon as that is seen: the parent never waits on a dead
            child.
    """
    ctx = mp.get_context(context)
    q = ctx.Queue()
    proc = ctx.Process(target=_child_main, args=(target, job, q), daemon=True)
    proc.start()
    try:
        while True:
            try:
                item = q.get(timeout=poll_s)
            except queue_module.Empty:
                if proc.is_alive():
                    continue
                try:  # it may have put its last words just before exiting
                    item = q.get(timeout=poll_s)
                except queue_module.Empty:
                    raise BenchmarkChildError(
                        f"{label}: the child process died (exit code {proc.exitcode}) "
                        "without reporting an error"
                    ) from None
            if item is None:
                break
            if isinstance(item, dict) and "__child_error__" in item:
                raise BenchmarkChildError(
                    f"{label} failed in its child process:\n{item['__child_error__'].rstrip()}"
                )
            yield item
        proc.join(timeout=60)
        if proc.exitcode != 0:
            raise BenchmarkChildError(f"{label}: the child process ended with {proc.exitcode}")
    finally:
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=10)
        q.close()


# ----------------------------------------------------------------------------- timing
def interleaved_times(
    fns: dict[str, Callable[[], Any]], rounds: int, warmup: int = 2
) -> dict[str, list[float]]:
    """Time each function ``rounds`` times, interleaving them round by round so that slow
    phases of a noisy machine hit all of them alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)
