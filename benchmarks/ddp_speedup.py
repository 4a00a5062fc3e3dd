"""Data-parallel training under ``torchrun``: 2 processes x 1 thread against 1 process x 1
thread, the same command otherwise (:mod:`spikegraph.train.distributed`, gloo on CPU).

Each run is ``python -m torch.distributed.run --standalone --nproc-per-node K -m spikegraph
train ...`` in a fresh process tree with ``OMP_NUM_THREADS=1``; runs alternate between
``K = 1`` and ``K = 2`` (``--repeats`` pairs), so a slow spell of the machine hits both. Read
from each run's record (written by rank 0): the training time per epoch (the trainer's
``time_per_epoch``: the epoch's training steps, gradient all-reduce included, evaluation
excluded), the run's wall time (start-up, sampler preprocessing and rank 0's evaluation
included), and the test accuracy at the best validation epoch. Reported: the medians over the
repeats, the speed-up ``time(K=1) / time(K=2)`` of each, and the bar: the 2-process test
accuracy within 1 point of the 1-process one (mean over the seeds).

The speed-up is only meaningful with a core per process and nothing else running: the script
refuses to start with fewer CPUs than processes.

    python benchmarks/ddp_speedup.py                     # into results/local/
    python benchmarks/ddp_speedup.py --update-results    # results/ddp_speedup.*
    python benchmarks/ddp_speedup.py --quick             # Cora, PyG's GCN, 2 epochs, 1 pair
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    add_output_options,
    check_rows_kept,
    command_line,
    output_dir,
    provenance,
    provenance_md,
    publish,
)

STEM = "ddp_speedup"
REPO = Path(__file__).resolve().parents[1]
#: The bar: the 2-process accuracy within this many points of the 1-process one.
BAR_POINTS = 1.0
PROCESSES = (1, 2)


def train_command(args: argparse.Namespace, nproc: int, record: Path) -> list[str]:
    """The ``torchrun`` command line of one run."""
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        str(nproc),
        "-m",
        "spikegraph",
        "train",
        "--dataset",
        args.dataset,
        "--split",
        args.split,
        "--model",
        args.model,
        "--sampler",
        args.sampler,
        "--epochs",
        str(args.epochs),
        "--patience",
        str(args.epochs),
        "--seeds",
        *map(str, args.seeds),
        "--no-progress",
        "--json",
        str(record),
    ]
    return cmd + (["--root", args.root] if args.root else [])


def one_run(args: argparse.Namespace, nproc: int, scratch: Path) -> dict[str, Any]:
    """One ``torchrun`` run with ``nproc`` processes of one thread each: its figures."""
    record_path = scratch / f"run-{nproc}-{time.monotonic_ns()}.json"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(
        OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    )
    start = time.perf_counter()
    done = subprocess.run(
        train_command(args, nproc, record_path), env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"torchrun with {nproc} process(es) failed (exit {done.returncode}):\n"
            f"{done.stderr[-4000:]}"
        )
    record = json.loads(record_path.read_text())
    runs = record["runs"]
    world = record["machine"].get("world_size")
    if world != nproc:
        raise RuntimeError(f"the record says world_size={world}, expected {nproc}")
    return {
        "processes": nproc,
        "wall_seconds": wall,
        "time_per_epoch": statistics.fmean(r["result"]["time_per_epoch"] for r in runs),
        "epochs": [r["result"]["epochs_run"] for r in runs],
        "test_acc": [r["result"]["test_acc"] for r in runs],
        "val_acc": [r["result"]["val_acc"] for r in runs],
        "batches_per_epoch": runs[0]["batches_per_epoch"],
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per process count, speed-ups over one process, and the accuracy bar."""
    by = {k: [r for r in runs if r["processes"] == k] for k in PROCESSES}
    med = {
        k: {
            key: statistics.median(r[key] for r in rs) for key in ("time_per_epoch", "wall_seconds")
        }
        | {"test_acc": statistics.fmean(a for r in rs for a in r["test_acc"])}
        for k, rs in by.items()
    }
    one, two = med[1], med[2]
    gap = 100 * (one["test_acc"] - two["test_acc"])
    return {
        "median": med,
        "speedup_epoch": one["time_per_epoch"] / two["time_per_epoch"],
        "speedup_wall": one["wall_seconds"] / two["wall_seconds"],
        "accuracy_gap_points": gap,
        "bar": {"max_points": BAR_POINTS, "met": abs(gap) <= BAR_POINTS},
    }


#: The settings of a run besides its row's name (the dataset and model).
SETTINGS = ("split", "sampler", "epochs", "seeds", "repeats")


def planned_rows(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The one row a run writes, with the settings it is measured with."""
    return {f"{args.dataset}: {args.model}": {k: getattr(args, k) for k in SETTINGS}}


def rows_in(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The row of a results file, as :func:`planned_rows` gives it."""
    return {f"{record['dataset']}: {record['model']}": {k: record[k] for k in SETTINGS}}


def to_markdown(record: dict[str, Any]) -> str:
    s = record["summary"]
    lines = [
        "# Data-parallel training: 2 processes x 1 thread vs 1 process x 1 thread",
        "",
        provenance_md(record["provenance"]),
        f"- run: `torchrun --standalone --nproc-per-node K -m spikegraph train --dataset "
        f"{record['dataset']} --split {record['split']} --model {record['model']} --sampler "
        f"{record['sampler']} --epochs {record['epochs']}` (no early stop), seeds "
        f"{record['seeds']}, `OMP_NUM_THREADS=1`, gloo; {record['repeats']} alternating "
        "pairs of runs, medians",
        "- time per epoch: the trainer's training time per epoch on rank 0 (gradient "
        "all-reduce included, evaluation excluded); wall: the whole command (start-up, "
        "preprocessing, rank 0's evaluation after every epoch included)",
        "",
        "| processes | time per epoch s | wall s | test acc (mean over seeds) |",
        "|---|---|---|---|",
    ]
    for k in PROCESSES:
        m = s["median"][k]
        lines.append(
            f"| {k} | {m['time_per_epoch']:.2f} | {m['wall_seconds']:.1f} | "
            f"{100 * m['test_acc']:.2f} |"
        )
    lines += [
        "",
        f"Speed-up of 2 processes over 1: {s['speedup_epoch']:.2f}x per training epoch, "
        f"{s['speedup_wall']:.2f}x wall.",
        "",
        f"Bar (2-process test accuracy within {BAR_POINTS:g} point of 1-process): "
        f"{'met' if s['bar']['met'] else 'NOT met'} (gap {s['accuracy_gap_points']:+.2f} "
        "points).",
        "",
        "Every run: "
        + "; ".join(
            f"K={r['processes']} epoch {r['time_per_epoch']:.2f} s, wall {r['wall_seconds']:.1f} s,"
            f" test {', '.join(f'{100 * a:.2f}' for a in r['test_acc'])}"
            for r in record["runs"]
        )
        + ".",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="PubMed")
    p.add_argument("--split", default="full", choices=["public", "full"])
    p.add_argument("--model", default="sgcn")
    p.add_argument("--sampler", default="graphsage")
    p.add_argument("--epochs", type=int, default=30, help="epochs of every run (no early stop)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--repeats", type=int, default=2, help="alternating (1, 2)-process pairs")
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument("--quick", action="store_true", help="Cora, PyG's GCN, 2 epochs, 1 pair")
    add_output_options(p)
    args = p.parse_args(argv)
    if args.quick:
        args.dataset, args.model, args.epochs, args.repeats = "Cora", "gcn", 2, 1
    for option in ("epochs", "repeats"):
        if getattr(args, option) < 1:
            p.error(f"--{option} must be >= 1, got {getattr(args, option)}")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if not args.quick and (cpus or 1) < max(PROCESSES):
        p.error(f"{max(PROCESSES)} processes need {max(PROCESSES)} CPUs; this process has {cpus}")
    out = output_dir(p, args)
    check_rows_kept(p, out, STEM, planned_rows(args), rows_in)
    runs = []
    with tempfile.TemporaryDirectory(prefix="ddp-") as tmp:
        for i in range(args.repeats):
            for k in PROCESSES if i % 2 == 0 else PROCESSES[::-1]:
                run = one_run(args, k, Path(tmp))
                runs.append(run)
                print(
                    f"K={k}: epoch {run['time_per_epoch']:.2f} s, wall {run['wall_seconds']:.1f}"
                    f" s, test {run['test_acc']}",
                    flush=True,
                )
    record = {
        "provenance": provenance(
            command_line(f"{STEM}.py", sys.argv[1:] if argv is None else argv)
        ),
        "dataset": args.dataset,
        "split": args.split,
        "model": args.model,
        "sampler": args.sampler,
        "epochs": args.epochs,
        "seeds": args.seeds,
        "repeats": args.repeats,
        "runs": runs,
        "summary": summarise(runs),
    }
    publish(STEM, record, to_markdown(record), out)
    return record


if __name__ == "__main__":
    main()
