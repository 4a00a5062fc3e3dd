"""Does mini-batch training with every sampler match full-batch accuracy?

For each seed, trains PyG's ``GCN`` and spikegraph's spiking GCN (``sgcn``) on PubMed with
``split="full"``: once full-batch, and once per sampler of the zoo (mini-batches, full-graph
evaluation of validation and test). The bar: every sampler's mean test accuracy is within 2
points of the same model's full-batch mean (or above it).

Results go to the scratch folder ``benchmarks/results/local/`` (ignored by git), to ``--out
DIR``, or, with ``--update-results``, to the committed ``benchmarks/results/``. Resumable:
every finished run is appended to ``<folder>/samplers_accuracy_runs.jsonl`` with its own
provenance (command, machine, date, spikegraph commit) and skipped when the script runs
again; the summary is rewritten from every run in that folder made with the same settings
(so a run of a few seeds or samplers adds to it), and lists the provenance of each. A folder
whose summary was made with other settings is refused.

Usage::

    SPIKEGRAPH_DATA=../shared/datasets python benchmarks/samplers_accuracy.py
    python benchmarks/samplers_accuracy.py --quick      # CI smoke run: 1 seed, 1 epoch
    python benchmarks/samplers_accuracy.py --update-results --summary-only   # committed summary
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    add_output_options,
    append_run,
    check_names,
    command_line,
    group_provenance,
    legacy_provenance,
    now,
    output_dir,
    provenance,
    publish,
    read_results,
    read_runs,
    sources_md,
)

from spikegraph.experiments import run_node_classification
from spikegraph.samplers import SAMPLERS
from spikegraph.train import TrainConfig

STEM = "samplers_accuracy"
RUNS_FILE = f"{STEM}_runs.jsonl"
MODELS = ("gcn", "sgcn")
#: Options that differ from the samplers' class defaults (``options_for``) in this benchmark:
#: ShaDow's per-target subgraphs are kept small (each target has its own copy).
BENCH_OPTIONS: dict[str, dict[str, Any]] = {"shadow": {"depth": 2, "num_neighbors": [5, 3]}}
BAR = 0.02
#: Samplers whose batches changed after runs were recorded: their key carries the revision,
#: so runs of the earlier batches are never counted with the later ones (they stay in the
#: runs file as a record). 2: GraphSAINT's paper estimator as final weights with closed-form
#: norms, PinSAGE's random tie-breaking.
SAMPLER_REVISIONS: dict[str, int] = {
    "graphsaint-node": 2,
    "graphsaint-edge": 2,
    "graphsaint-rw": 2,
    "pinsage": 2,
}
#: Model options of this study, pinned so that the committed runs stay reproducible when the
#: registry's defaults move: the spiking GCN here is the paper's GC-SNN (STFN, leaky neuron
#: with tau=2 and hard reset, no input dropout), the configuration the study was run with.
MODEL_OPTIONS: dict[str, dict[str, Any]] = {
    "gcn": {},
    "sgcn": {"norm": "stfn", "tau": 2.0, "reset": "hard", "input_dropout": 0.0},
}


def parse_args(
    argv: list[str] | None = None,
) -> tuple[argparse.Namespace, argparse.ArgumentParser]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument("--dataset", default="PubMed")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--samplers", nargs="+", default=list(SAMPLERS), choices=list(SAMPLERS))
    p.add_argument("--epochs-full", type=int, default=TrainConfig.epochs, help="full-batch epochs")
    p.add_argument("--patience-full", type=int, default=TrainConfig.patience)
    p.add_argument(
        "--epochs-nodewise", type=int, default=12, help="mini-batch epochs, node-wise samplers"
    )
    p.add_argument(
        "--epochs-subgraph", type=int, default=50, help="mini-batch epochs, subgraph samplers"
    )
    p.add_argument("--batch-size", type=int, default=1024, help="seeds per node-wise batch")
    p.add_argument("--num-workers", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="1 seed, 1 mini-batch epoch (smoke run)")
    add_output_options(p)
    p.add_argument(
        "--summary-only",
        action="store_true",
        help="write the summary from the runs recorded so far, run nothing",
    )
    args = p.parse_args(argv)
    from spikegraph.datasets import DATASETS

    args.dataset = check_names(p, "--dataset", [args.dataset], DATASETS)[0]
    for option in ("seeds", "models", "samplers"):
        values = getattr(args, option)
        if len(set(values)) != len(values):
            p.error(f"--{option}: duplicates in {values}")
    if args.quick:
        args.seeds = args.seeds[:1]
        args.epochs_full, args.patience_full = 5, None
        args.epochs_nodewise = args.epochs_subgraph = 1
    return args, p


def epochs_of(args: argparse.Namespace, sampler: str | None) -> int:
    if sampler is None:
        return args.epochs_full
    return args.epochs_nodewise if SAMPLERS[sampler].takes_seeds else args.epochs_subgraph


def run_key(args: argparse.Namespace, model: str, sampler: str | None, seed: int) -> str:
    """Identifies a run and its settings (a rerun with other settings does not reuse it)."""
    bs = args.batch_size if sampler and SAMPLERS[sampler].takes_seeds else None
    key = f"{model}|{sampler or 'full-batch'}|{seed}|epochs={epochs_of(args, sampler)}|bs={bs}"
    revision = SAMPLER_REVISIONS.get(sampler or "")
    return key if revision is None else f"{key}|rev={revision}"


def one_run(args: argparse.Namespace, model: str, sampler: str | None, seed: int) -> dict:
    minibatch = sampler is not None
    train_options = {
        "epochs": epochs_of(args, sampler),
        "patience": None if minibatch else args.patience_full,
        "progress": False,
    }
    start = time.perf_counter()
    summary = run_node_classification(
        args.dataset,
        model,
        seeds=[seed],
        root=args.root,
        split="full",
        model_options=MODEL_OPTIONS[model],
        train_options=train_options,
        sampler=sampler,
        sampler_options=BENCH_OPTIONS.get(sampler or ""),  # on top of the class defaults
        batch_size=args.batch_size if minibatch and SAMPLERS[sampler].takes_seeds else None,
        num_workers=args.num_workers,
    )
    run = summary.runs[0]
    return {
        "key": run_key(args, model, sampler, seed),
        "dataset": args.dataset,
        "model": model,
        "sampler": sampler or "full-batch",
        "seed": seed,
        "test_acc": run.result.test_acc,
        "val_acc": run.result.val_acc,
        "best_epoch": run.result.best_epoch,
        "epochs_run": run.result.epochs_run,
        "time_per_epoch": run.result.time_per_epoch,
        "preprocess_time": run.preprocess_time,
        "batches_per_epoch": run.batches_per_epoch,
        "sampler_options": run.sampler_options,
        "wall_time": time.perf_counter() - start,
    }


def settings_of(args: argparse.Namespace) -> dict[str, Any]:
    """The settings every run of a summary shares."""
    return {
        "epochs_full": args.epochs_full,
        "patience_full": args.patience_full,
        "epochs_nodewise": args.epochs_nodewise,
        "epochs_subgraph": args.epochs_subgraph,
        "batch_size_nodewise": args.batch_size,
        "bench_options": BENCH_OPTIONS,
        "model_options": MODEL_OPTIONS,
        "bar": f"mean test accuracy >= full-batch mean - {BAR}",
    }


def matches(args: argparse.Namespace, run: dict[str, Any]) -> bool:
    """Whether ``run`` was made on this dataset with these settings."""
    sampler = None if run["sampler"] == "full-batch" else run["sampler"]
    if run["model"] not in MODELS or (sampler is not None and sampler not in SAMPLERS):
        return False
    return (
        run.get("dataset") == args.dataset
        and run["key"] == run_key(args, run["model"], sampler, run["seed"])
        and (sampler is None or run.get("sampler_options") == sampler_options(sampler))
    )


def sampler_options(sampler: str, num_layers: int = 2) -> dict[str, Any]:
    """The options this benchmark builds ``sampler`` with (its class defaults for a
    ``num_layers``-layer model, then :data:`BENCH_OPTIONS`), as a run records them: a run
    recorded with other options (the class defaults moved since) is not this configuration."""
    return json.loads(
        json.dumps({**SAMPLERS[sampler].options_for(num_layers), **BENCH_OPTIONS.get(sampler, {})})
    )


def summarise(runs: list[dict], args: argparse.Namespace, session: dict[str, Any]) -> dict:
    """Rows (model, sampler) of ``runs``, all made with the settings of ``args``."""
    rows = []
    for model in MODELS:
        full = [r["test_acc"] for r in runs if r["model"] == model and r["sampler"] == "full-batch"]
        full_mean = statistics.fmean(full) if full else float("nan")
        for sampler in ["full-batch", *SAMPLERS]:
            accs = sorted(
                (r for r in runs if r["model"] == model and r["sampler"] == sampler),
                key=lambda r: r["seed"],
            )
            if not accs:
                continue
            vals = [r["test_acc"] for r in accs]
            mean = statistics.fmean(vals)
            rows.append(
                {
                    "model": model,
                    "sampler": sampler,
                    "seeds": [r["seed"] for r in accs],
                    "test_acc_mean": mean,
                    "test_acc_std": statistics.pstdev(vals) if len(vals) > 1 else 0.0,
                    "diff_vs_full": mean - full_mean,
                    "within_bar": sampler == "full-batch" or mean >= full_mean - BAR,
                    "time_per_epoch": statistics.fmean(r["time_per_epoch"] for r in accs),
                    "preprocess_time": statistics.fmean(r["preprocess_time"] for r in accs),
                    "batches_per_epoch": accs[0]["batches_per_epoch"],
                }
            )
    return {
        # who wrote this summary; the runs' own provenance is under "sources"
        "command": session["command"],
        "date": session["date"],
        "machine": session["machine"],
        "git_commit": session["git_commit"],
        "dataset": args.dataset,
        "split": "full",
        "settings": settings_of(args),
        "rows": rows,
        "all_within_bar": all(r["within_bar"] for r in rows),
        "sources": group_provenance(
            (f"{r['model']} / {r['sampler']}", r["seed"], r["provenance"])
            for r in sorted(runs, key=lambda r: (r["seed"], r["model"], r["sampler"]))
        ),
        "runs": runs,
    }


def to_markdown(summary: dict) -> str:
    s = summary["settings"]
    lines = [
        f"# Mini-batch vs full-batch accuracy on {summary['dataset']} (split=full)",
        "",
        sources_md(summary["sources"]),
        f"This summary was written by `{summary['command']}` on {summary['date']}.",
        "",
        f"- full-batch: {s['epochs_full']} epochs (patience {s['patience_full']}); mini-batch: "
        f"{s['epochs_nodewise']} epochs for node-wise samplers (batch size "
        f"{s['batch_size_nodewise']}), {s['epochs_subgraph']} for subgraph samplers (fewer "
        "batches per epoch); test accuracy of the best validation epoch; validation and test "
        "scored on the full graph",
        f"- model options (on top of the registry's): {s.get('model_options', MODEL_OPTIONS)}",
        f"- bar: {s['bar']}",
        "- test acc: mean ± population standard deviation (`statistics.pstdev`) over the row's "
        "seeds (column *seeds*: how many)",
        f"- runs shown: {len(summary['runs'])}; of this command's plan, "
        f"{summary['completed_runs']} of {summary['planned_runs']} runs completed",
        "",
        "| model | sampler | seeds | test acc (%) | diff vs full (pts) | within 2 pts | "
        "s/epoch | preprocess (s) | batches/epoch |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary["rows"]:
        lines.append(
            f"| {r['model']} | {r['sampler']} | {len(r['seeds'])} | "
            f"{100 * r['test_acc_mean']:.2f} ± {100 * r['test_acc_std']:.2f} | "
            f"{100 * r['diff_vs_full']:+.2f} | {'yes' if r['within_bar'] else 'NO'} | "
            f"{r['time_per_epoch']:.2f} | {r['preprocess_time']:.2f} | {r['batches_per_epoch']} |"
        )
    if summary.get("notes"):
        lines += ["", summary["notes"]]
    return "\n".join(lines) + "\n"


def header_provenance(existing: dict[str, Any] | None) -> dict[str, Any] | None:
    """Provenance of the runs in the folder that carry none: the header of the summary they
    were written with (files written before runs carried their own provenance)."""
    if existing is None:
        return None
    if "sources" in existing:  # written by this version: it carries the old header along
        return existing.get("legacy_provenance")
    header = {k: existing[k] for k in ("command", "machine", "date") if k in existing}
    if existing.get("notes"):
        header["note"] = existing["notes"]
    return header or None


def check_run_settings(
    parser: argparse.ArgumentParser,
    jsonl: Path,
    run: dict[str, Any],
    settings: dict[str, Any],
    existing: dict[str, Any] | None,
) -> None:
    """Refuse (``parser.error``) a recorded ``run`` of this dataset made with other
    ``settings`` than this command's: the runs log alone decides, so a resume after a kill
    (no summary written yet) cannot reuse runs of another ``--patience-full``. A run recorded
    before runs carried their settings has those of the folder's summary, if any."""
    theirs = run.get("settings")
    if theirs is None and existing is not None and existing.get("dataset") == run.get("dataset"):
        theirs = existing.get("settings")
    if theirs is None:
        parser.error(
            f"{jsonl}: run {run.get('key')!r} records no settings and no summary gives them, "
            "so it cannot be checked against this run's. Write elsewhere (--out DIR)."
        )
    differ = [k for k in sorted({*theirs, *settings}) if theirs.get(k) != settings.get(k)]
    if differ:
        parser.error(
            f"{jsonl}: run {run.get('key')!r} was made with other settings than this run's: "
            + "; ".join(
                f"{k}={theirs.get(k)!r} there, {k}={settings.get(k)!r} here" for k in differ
            )
            + ". One summary cannot mix them. Write elsewhere (--out DIR)."
        )


def main(argv: list[str] | None = None) -> int:
    args, parser = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    out = output_dir(parser, args)
    existing = read_results(out / f"{STEM}.json") if out is not None else None
    if existing is not None and existing.get("rows"):
        theirs = {"dataset": existing.get("dataset"), "settings": existing.get("settings")}
        ours = json.loads(json.dumps({"dataset": args.dataset, "settings": settings_of(args)}))
        if theirs != ours:
            parser.error(
                f"{out / (STEM + '.json')} was made with other settings ({theirs}) than this "
                f"run's ({ours}): one summary cannot mix them. Write elsewhere (--out DIR)."
            )
    session = provenance(command_line(f"{STEM}.py", sys.argv[1:] if argv is None else argv))
    header = header_provenance(existing)
    jsonl = out / RUNS_FILE if out is not None else None
    settings = json.loads(json.dumps(settings_of(args)))
    done = {}
    for rec in read_runs(jsonl) if jsonl is not None else []:
        if "provenance" not in rec:  # recorded before runs carried their own provenance
            rec["provenance"] = legacy_provenance(header)
            rec.setdefault("dataset", (existing or {}).get("dataset"))
        if rec.get("dataset") == args.dataset:
            check_run_settings(parser, jsonl, rec, settings, existing)
        if matches(args, rec):  # a run of other sampler options is not this one
            done[(rec.get("dataset"), rec["key"])] = rec
    plan = [
        (model, sampler, seed)
        for seed in args.seeds
        for model in args.models
        for sampler in [None, *args.samplers]
    ]
    for i, (model, sampler, seed) in enumerate(plan):
        key = (args.dataset, run_key(args, model, sampler, seed))
        if key in done or args.summary_only:
            continue
        rec = one_run(args, model, sampler, seed)
        rec["settings"] = settings  # a resume with other settings is refused, summary or not
        rec["provenance"] = {**session, "date": now()}
        done[key] = rec
        if jsonl is not None:
            append_run(jsonl, rec)
        print(
            f"[{i + 1}/{len(plan)}] {key[1]}: test {100 * rec['test_acc']:.2f} "
            f"({rec['wall_time']:.0f} s)",
            flush=True,
        )
    wanted = {(args.dataset, run_key(args, *p)) for p in plan}
    summary = summarise([r for r in done.values() if matches(args, r)], args, session)
    if header is not None:
        summary["legacy_provenance"] = header
    summary["planned_runs"] = len(plan)
    summary["completed_runs"] = len(wanted & set(done))
    publish(STEM, summary, to_markdown(summary), out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
