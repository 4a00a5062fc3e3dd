"""Validation-only probes around a tuned cell: its selected trial with one option changed.

A probe asks whether a change to a model (an option outside its search space, or a value
outside a range) is worth a new sweep, before spending one. Each row trains a trial of a
committed sweep record (``sweeps/<dataset>-<model>.json``; by default its selected trial)
with the given changes (:func:`spikegraph.experiments.tune.probe_trial`) on seeds that
the cell's selection did not read (it favoured trials lucky on its tuning, re-scoring and
final seeds: such seeds are refused), with the test labels hidden: no test label is read,
so a probe can never select on test. Reference rows train other records' selected trials
the same way (the tuned baseline to compare with). Rows are written as they finish; an
interrupted run resumes, and a results file of another configuration (seeds, epochs,
record, source commit) is refused, naming the difference.

    python benchmarks/probe_variants.py --record CiteSeer-sgat --reference CiteSeer-gat \\
        --variant surrogate=triangle --variant T=2 --update-results
    python benchmarks/probe_variants.py --record CiteSeer-sgat --reference CiteSeer-gat \\
        --top 3 --name CiteSeer-top3 --update-results   # the 3 best trials of each, as they are
    python benchmarks/probe_variants.py --quick                    # smoke run

A variant is ``key=value[,key=value...]``; values are read as JSON where they parse
(``T=2``, ``tau=inf`` for infinity), as strings otherwise (``surrogate=triangle``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    RESULTS,
    add_output_options,
    atomic_write_text,
    command_line,
    now,
    output_dir,
    provenance,
    provenance_md,
    read_results,
)

from spikegraph.experiments import tune

FOLDER = "probes"
FORMAT = "spikegraph-probe-variants/1"
#: Validation seeds of a probe: none of the seeds a tuned cell's selection reads (tuning 0-2,
#: re-scoring 10-14, final 100-109; :func:`selection_seeds`).
DEFAULT_SEEDS = (20, 21, 22, 23, 24)


def parse_variant(spec: str) -> dict[str, Any]:
    """``"T=2,surrogate=triangle"`` -> ``{"T": 2, "surrogate": "triangle"}``.

    Raises:
        ValueError: for an empty spec, a part without ``=``, or a key given twice.
    """
    out: dict[str, Any] = {}
    for part in spec.split(","):
        key, sep, text = part.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"variant {spec!r}: {part!r} is not key=value")
        if key in out:
            raise ValueError(f"variant {spec!r}: {key!r} is given twice")
        text = text.strip()
        if text in ("inf", "-inf"):
            out[key] = math.inf if text == "inf" else -math.inf
            continue
        try:
            out[key] = json.loads(text)
        except json.JSONDecodeError:
            out[key] = text
    return out


def variant_label(changes: dict[str, Any]) -> str:
    """The row's name: ``base`` or its changes as given."""
    return ", ".join(f"{k}={v}" for k, v in changes.items()) if changes else "base"


def record_path(name: str, folder: Path) -> Path:
    """A record given as a path, or as a cell name of ``folder/sweeps`` (``CiteSeer-sgat``)."""
    path = Path(name)
    if path.suffix == ".json" or path.exists():
        return path
    return folder / "sweeps" / f"{name}.json"


def planned_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One row per (record, trial, changes): the references' selected trials, the probed
    trial as it is, then each variant of it. With ``--top K``: the K best trials of each
    reference and of the probed record, as they are (rank ``-1 - i``: the i-th best, made a
    trial number once the record is read)."""
    if args.top is not None:
        return [
            {"record": name, "trial": -1 - i, "changes": {}}
            for name in [*args.reference, args.record]
            for i in range(args.top)
        ]
    rows = []
    for ref in args.reference:
        rows.append({"record": ref, "trial": None, "changes": {}})
    rows.append({"record": args.record, "trial": args.trial, "changes": {}})
    for spec in args.variant:
        rows.append({"record": args.record, "trial": args.trial, "changes": parse_variant(spec)})
    return rows


def load_record(name: str, folder: Path) -> tuple[dict[str, Any], str]:
    """The tuning record named ``name`` and the SHA-256 of its file (rows are keyed by it)."""
    path = record_path(name, folder)
    records = tune.read_records(path)
    return records, hashlib.sha256(path.read_bytes()).hexdigest()


def selected_number(records: dict[str, Any], trial: int | None) -> int:
    """``trial``, or the record's selected trial (its final evaluation's, else its best);
    a negative ``trial`` is a rank: ``-1`` the best counted trial, ``-2`` the next
    (:func:`~spikegraph.experiments.tune.ranked_trials`).

    Raises:
        ValueError: for a rank beyond the record's finished trials.
    """
    if trial is not None and trial < 0:
        ranked = tune.ranked_trials(records)
        if -trial > len(ranked):
            raise ValueError(
                f"record {records.get('study')!r} has {len(ranked)} finished trials, "
                f"not {-trial}: lower --top"
            )
        return ranked[-1 - trial]["number"]
    if trial is not None:
        return trial
    if records.get("final"):
        return records["final"]["trial"]
    best = tune.best_trial(records)
    if best is None:
        raise ValueError(f"record {records.get('study')!r} has no finished trial to probe")
    return best["number"]


def selection_seeds(records: dict[str, Any]) -> set[int]:
    """The seeds whose validation scores chose a record's configuration: its trials' tuning
    seeds, its re-scoring seeds, and its final seeds (the family comparison of ``tuned.md``
    picks cells by the final seeds' validation). A probe on them would re-read the scores
    the selection favoured."""
    seeds = set(records["config"]["budget"]["seeds"])
    rescore = records.get("rescore") or {}
    seeds |= set((rescore.get("rule") or {}).get("seeds") or ())
    seeds |= set((records.get("final") or {}).get("seeds") or ())
    return seeds


def check_fresh(seeds: list[int], name: str, records: dict[str, Any]) -> None:
    """Refuse probe ``seeds`` that record ``name``'s selection read (:func:`selection_seeds`).

    Raises:
        ValueError: naming the seeds and the record.
    """
    used = sorted(set(seeds) & selection_seeds(records))
    if used:
        raise ValueError(
            f"--seeds {used} chose {name}'s configuration (tuning, re-scoring or final "
            f"seeds): a probe on them is biased towards it; give others (default "
            f"{list(DEFAULT_SEEDS)})"
        )


def row_key(row: dict[str, Any]) -> str:
    """A row's identity. Sorted keys: the file stores changes sorted, while a variant may
    name them in any order (``T=8,tau=inf`` and ``tau=inf,T=8`` are one row)."""
    return json.dumps(
        [row["record"], row["record_sha256"], row["trial"], row["changes"]], sort_keys=True
    )


def markdown(result: dict[str, Any]) -> str:
    cfg = result["config"]
    lines = [
        f"# Probe: {cfg['name']}",
        "",
        "Validation accuracy only (test labels hidden; no test label read). Each row trains "
        "a trial of a committed sweep record with the changes shown, on seeds "
        f"{cfg['seeds']} (none of them seeds its selection read), "
        f"{cfg['epochs'] or 'the record budget'}"
        " epochs. Validation mean: mean +- population standard deviation (`statistics.pstdev`) "
        f"over the {len(cfg['seeds'])} seeds. A lead, not a result of the tuned table.",
        "",
        "## What ran",
        "",
        provenance_md(result["provenance"]),
        "| record | trial | changes | validation mean | per seed | seconds | ran on |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        seeds = ", ".join(f"{100 * v:.1f}" for v in r["val_acc"])
        lines.append(
            f"| {r['record']} | {r['trial']} | {variant_label(r['changes'])} | "
            f"{100 * r['val_mean']:.2f} +- {100 * r['val_std']:.2f} | {seeds} | "
            f"{r['seconds']:.0f} | {r['ran_on']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--record", help="the probed cell: a sweeps record path or cell name")
    p.add_argument("--trial", type=int, default=None, help="default: the selected trial")
    p.add_argument("--reference", action="append", default=[],
                   help="a record whose selected trial is trained alike (repeatable)")  # fmt: skip
    p.add_argument("--variant", action="append", default=[],
                   help="changes key=value[,key=value] (repeatable)")  # fmt: skip
    p.add_argument("--top", type=int, default=None,
                   help="the K best trials of the record and of each reference, unchanged "
                   "(scores the selection's runners-up on fresh seeds)")  # fmt: skip
    p.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS))
    p.add_argument("--name", default=None, help="results file stem (default: <record>-variants)")
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true", help="Cora-gcn, 1 variant, 1 seed, 2 epochs")
    add_output_options(p)
    args = p.parse_args(argv)
    epochs = None
    if args.quick:
        args.record, args.reference, args.variant = "Cora-gcn", [], ["hidden_channels=16"]
        args.seeds, epochs = [DEFAULT_SEEDS[0]], 2
    if not args.record:
        p.error("--record is required: the cell to probe")
    if args.top is not None and (args.top < 1 or args.variant or args.trial is not None):
        p.error(f"--top {args.top}: needs K >= 1, and no --variant or --trial beside it")
    out = output_dir(p, args)
    name = args.name or f"{Path(args.record).stem}-variants"
    try:
        seeds = tune.check_seeds(args.seeds)
        rows = planned_rows(args)
        for row in rows:
            records, row["record_sha256"] = load_record(row["record"], RESULTS)
            check_fresh(seeds, row["record"], records)
            row["trial"] = selected_number(records, row["trial"])
            tune.changed_trial(records, row["trial"], row["changes"])  # refused before any run
            row["_records"] = records
    except (ValueError, TypeError, FileNotFoundError) as err:
        p.error(str(err))
    config = {"name": name, "seeds": seeds, "epochs": epochs, "commit": tune.source_commit()}
    path = None if out is None else out / FOLDER / f"{name}.json"
    done: dict[str, dict[str, Any]] = {}
    if path is not None:
        try:
            earlier = read_results(path)
        except ValueError as err:
            p.error(str(err))
        if earlier is not None:
            if earlier.get("format") != FORMAT or earlier.get("config") != config:
                have = earlier.get("config") or {}
                diff = sorted(k for k in set(config) | set(have) if config.get(k) != have.get(k))
                p.error(
                    f"{path} holds a probe of another configuration (differs in "
                    f"{', '.join(diff) or 'format'}): remove it or give --name"
                )
            done = {row_key(r): r for r in earlier["rows"]}
    command = command_line("probe_variants.py", sys.argv[1:] if argv is None else argv)
    result: dict[str, Any] = {"format": FORMAT, "config": config, "rows": []}
    for row in rows:
        records = row.pop("_records")
        kept = done.get(row_key(row))
        if kept is None:
            start = time.perf_counter()
            try:
                scores = tune.probe_trial(
                    records, row["trial"], seeds, row["changes"], args.root, args.device, epochs
                )
            except (ValueError, TypeError) as err:
                p.error(f"{row['record']} trial {row['trial']} {row['changes']}: {err}")
            kept = {
                **row,
                "val_acc": scores,
                "val_mean": statistics.mean(scores),
                "val_std": statistics.pstdev(scores),
                "seconds": time.perf_counter() - start,
                "ran_on": tune.ran_on(args.device),
                "date": now(),
            }
        result["rows"].append(kept)
        print(
            f"{kept['record']} trial {kept['trial']} {variant_label(kept['changes'])}: "
            f"validation {100 * kept['val_mean']:.2f} ({kept['seconds']:.0f} s)",
            flush=True,
        )
        if path is not None:  # after every row: an interrupted probe resumes here
            result["provenance"] = provenance(command)
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps(result, indent=2, sort_keys=True) + "\n")
    if path is not None:
        atomic_write_text(path.with_suffix(".md"), markdown(result))
        print(f"wrote {path} and {path.with_suffix('.md')}", flush=True)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        print("probe_variants.py: interrupted; the finished rows are kept", file=sys.stderr)
        raise SystemExit(130) from None
