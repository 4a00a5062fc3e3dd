"""OGB at real scale on one box: the spiking GCN and PyG's GCN trained with GraphSAGE batches
on products-like and arxiv-like data (:mod:`spikegraph.datasets.synthetic`, OGB's layout,
read by ogb's own loader), scored layer by layer with OGB's ``Evaluator``.

Each step runs in a fresh process of its own, so every peak memory (the process's
high-water mark, :func:`spikegraph._memory.peak_rss_mb`) is that step's alone:

- **generation**: ``make_dataset`` into the scratch folder when no data root holds the
  dataset (skipped, and reported as given, when ``--arxiv-root`` / ``--products-root`` do);
- **first load**: ogb's loader processes the CSV files into the cache (or finds them there);
- **cached load**: the processed tensors read back (memory-mapped, ``--mmap``);
- **train**, per model: ``spikegraph train``'s library path (:func:`run_node_classification`)
  with ``--sampler graphsage --eval layerwise --mmap``, ``--epochs`` epochs (each followed
  by a layer-wise evaluation, plus the final one): time per epoch, the sampling share of it
  (the time spent drawing batches), the sampler's preprocessing, one layer-wise evaluation,
  peak RSS and the test accuracy by OGB's ``Evaluator`` after those epochs.

Model, sampler and evaluation settings are the registry's defaults (the spiking GCN ``sgcn``
with its registered ``T`` and neuron; GraphSAGE's ``[10, 10]`` neighbours, 512 seeds per
batch). The bar: peak RSS of the products-like training run below 16 GB.

    python benchmarks/scale.py --products-root DIR --arxiv-root DIR   # into results/local/
    python benchmarks/scale.py --update-results                       # results/scale.*
    python benchmarks/scale.py --quick                                # tiny instances
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    SCRATCH,
    add_output_options,
    check_rows_kept,
    command_line,
    output_dir,
    provenance,
    provenance_md,
    publish,
    run_in_child,
)

STEM = "scale"
DATASETS = {"arxiv": "ogbn-arxiv", "products": "ogbn-products"}
MODELS = ("sgcn", "gcn")
SAMPLER = "graphsage"
#: The bar: peak resident memory of the products-like training run.
BAR_GB = 16.0
#: Sizes of ``--quick``'s instances.
QUICK_SCALE = {"arxiv": 0.003, "products": 0.0003}


def _peak_mb() -> float:
    from spikegraph._memory import peak_rss_mb

    return round(peak_rss_mb(), 1)


def _generate(job: dict[str, Any], queue: Any) -> None:
    from spikegraph.datasets.synthetic import make_dataset

    start = time.perf_counter()
    made = make_dataset(job["like"], job["root"], seed=0, scale=job["scale"], progress=False)
    queue.put(
        {"seconds": time.perf_counter() - start, "peak_rss_mb": _peak_mb(), "label": made.label}
    )


def _load(job: dict[str, Any], queue: Any) -> None:
    os.environ["SPIKEGRAPH_CACHE"] = job["cache"]
    import spikegraph.datasets.ogb as ogb

    built = []
    real = ogb._build
    ogb._build = lambda *a: built.append(1) or real(*a)
    start = time.perf_counter()
    data, _ = ogb.load_ogb(job["like"], root=job["root"], mmap=job["mmap"], download=False)
    queue.put(
        {
            "seconds": time.perf_counter() - start,
            "processed": bool(built),
            "peak_rss_mb": _peak_mb(),
            "num_nodes": int(data.num_nodes),
            "num_edges": int(data.edge_index.size(1)),
        }
    )


def _train(job: dict[str, Any], queue: Any) -> None:
    os.environ["SPIKEGRAPH_CACHE"] = job["cache"]
    import torch

    import spikegraph.samplers.loader as loader_module
    from spikegraph.experiments import run_node_classification

    if job["threads"]:
        torch.set_num_threads(job["threads"])
    sampling = {"seconds": 0.0, "batches": 0}
    real = loader_module._PlannedBatches.__getitem__

    def timed(self, i):
        start = time.perf_counter()
        try:
            return real(self, i)
        finally:
            sampling["seconds"] += time.perf_counter() - start
            sampling["batches"] += 1

    loader_module._PlannedBatches.__getitem__ = timed
    _warm_up(job["model"])
    start = time.perf_counter()
    summary = run_node_classification(
        job["like"],
        job["model"],
        seeds=[0],
        root=job["root"],
        train_options={"epochs": job["epochs"], "patience": None, "progress": False},
        sampler=SAMPLER,
        evaluation="layerwise",
        mmap=job["mmap"],
    )
    wall = time.perf_counter() - start
    run = summary.runs[0]
    res = run.result
    train_time = res.time_per_epoch * res.epochs_run
    queue.put(
        {
            "dataset": run.dataset,
            "wall_seconds": wall,
            "time_per_epoch": res.time_per_epoch,
            "sampling_seconds": sampling["seconds"],
            "sampling_share": sampling["seconds"] / train_time if train_time else None,
            "batches": sampling["batches"],
            "preprocess_time": run.preprocess_time,
            "inference_time": res.inference_time,
            "test_acc": res.test_acc,
            "val_acc": res.val_acc,
            "epochs": res.epochs_run,
            "metric": run.metric,
            "peak_rss_mb": _peak_mb(),
            "batch_size": run.batch_size,
            "sampler_options": run.sampler_options,
            "eval_batch_size": run.eval_batch_size,
            "mode": run.mode,
            "model_options": run.effective_model_options,
        }
    )


def _warm_up(model: str) -> None:
    """One forward and backward of ``model`` on a 6-node graph, so the spiking neuron's
    compiled kernels (numba) are built before the first timed epoch, not inside it."""
    import torch

    from spikegraph.models import build_model

    net = build_model(model, 4, 2, hidden_channels=4)
    x, edge_index = torch.rand(6, 4), torch.tensor([[0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 0]])
    net(x, edge_index).sum().backward()


def one(target, job: dict[str, Any], label: str) -> dict[str, Any]:
    """``target(job)`` in a fresh process: its one report."""
    (item,) = list(run_in_child(target, job, label))
    return item


def has_dataset(root: Path, like: str) -> bool:
    from spikegraph.datasets.ogb import find_ogb_dir

    try:
        find_ogb_dir(like, root)
    except FileNotFoundError:
        return False
    return True


def planned_rows(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The rows a run writes (one per dataset), each with the settings it is measured with:
    the training epochs, whether it is a ``--quick`` run, the data's scale and the models."""
    return {
        DATASETS[key]: {
            "epochs": args.epochs,
            "quick": args.quick,
            "scale": QUICK_SCALE[key] if args.quick else 1.0,
            "models": sorted(args.models),
        }
        for key in args.datasets
    }


def rows_in(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The rows of a results file, as :func:`planned_rows` gives them."""
    return {
        row["dataset"]: {
            "epochs": record["epochs"],
            "quick": record["quick"],
            "scale": row["scale"],
            "models": sorted(row["runs"]),
        }
        for row in record["rows"]
    }


def bench_dataset(key: str, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    like = DATASETS[key]
    given = getattr(args, f"{key}_root") or args.root
    scale = QUICK_SCALE[key] if args.quick else 1.0
    root = Path(given) if given else scratch / "data" / f"{key}-like-{scale:g}"
    row: dict[str, Any] = {"dataset": like, "root": str(root), "scale": scale}
    if given and not has_dataset(root, like):
        raise SystemExit(f"--{key}-root {root}: no {like} files there (see make-dataset)")
    if has_dataset(root, like):
        row["generation"] = None
        print(f"{like}: using the files in {root} (generation not timed)", flush=True)
    else:
        print(f"{like}: generating scale {scale:g} into {root}", flush=True)
        job = {"like": like, "root": str(root), "scale": scale}
        row["generation"] = one(_generate, job, f"generate {like}")
    base = {"like": like, "root": str(root), "cache": str(scratch / "cache"), "mmap": True}
    row["first_load"] = one(_load, base, f"first load of {like}")
    row["cached_load"] = one(_load, base, f"cached load of {like}")
    print(f"{like}: loads {row['first_load']} / {row['cached_load']}", flush=True)
    row["runs"] = {}
    for model in args.models:
        job = {**base, "model": model, "epochs": args.epochs, "threads": args.threads}
        run = one(_train, job, f"{model} on {like}")
        row["runs"][model] = run
        row["label"] = run["dataset"]
        print(
            f"{like} {model}: epoch {run['time_per_epoch']:.1f} s (sampling "
            f"{100 * run['sampling_share']:.0f} %), eval {run['inference_time']:.1f} s, "
            f"peak {run['peak_rss_mb'] / 1024:.2f} GiB, test {100 * run['test_acc']:.2f} %",
            flush=True,
        )
    return row


def _gb(mb: float | None) -> str:
    return "-" if mb is None else f"{mb / 1024:.2f}"


def to_markdown(record: dict[str, Any]) -> str:
    lines = [
        "# OGB at real scale on one box",
        "",
        f"GraphSAGE batches (registry defaults), layer-wise evaluation, OGB's `Evaluator`, "
        f"{record['epochs']} training epoch(s); every step in its own process (peak RSS is "
        f"that step's). Bar: products-like training run below {BAR_GB:g} GB peak RSS.",
        "",
        "| data | generation s (peak GB) | first load s (processed; peak GB) | cached load s "
        "(peak GB) |",
        "|---|---|---|---|",
    ]
    for row in record["rows"]:
        gen = row["generation"]
        gen_s = "given" if gen is None else f"{gen['seconds']:.0f} ({_gb(gen['peak_rss_mb'])})"
        first, cached = row["first_load"], row["cached_load"]
        lines.append(
            f"| {row.get('label', row['dataset'])} | {gen_s} | {first['seconds']:.0f} "
            f"({'yes' if first['processed'] else 'cached'}; {_gb(first['peak_rss_mb'])}) | "
            f"{cached['seconds']:.1f} ({_gb(cached['peak_rss_mb'])}) |"
        )
    lines += [
        "",
        "| data | model | preprocessing s | time per epoch s | sampling share | layer-wise "
        "eval s | peak RSS GB | test acc (OGB Evaluator) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in record["rows"]:
        for model, run in row["runs"].items():
            lines.append(
                f"| {row.get('label', row['dataset'])} | {model} | {run['preprocess_time']:.1f} "
                f"| {run['time_per_epoch']:.1f} | {100 * run['sampling_share']:.0f} % | "
                f"{run['inference_time']:.1f} | {_gb(run['peak_rss_mb'])} | "
                f"{100 * run['test_acc']:.2f} % |"
            )
    bar = record.get("bar")
    if bar is not None:
        lines += ["", f"Bar (products-like spiking GCN peak RSS < {BAR_GB:g} GB): {bar}"]
    lines += ["", provenance_md(record["provenance"])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default=None, help="data root holding both datasets")
    p.add_argument("--arxiv-root", default=None, help="data root of ogbn-arxiv (arxiv-like)")
    p.add_argument("--products-root", default=None, help="data root of ogbn-products")
    p.add_argument(
        "--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS), help="which"
    )
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--epochs", type=int, default=1, help="training epochs before the test score")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument(
        "--scratch",
        default=None,
        help="where generated data and the cache go (default: results/local/scale/; "
        "--quick: a temporary folder)",
    )
    p.add_argument("--quick", action="store_true", help="tiny generated instances, 1 epoch")
    add_output_options(p)
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error(f"--epochs must be >= 1, got {args.epochs}")
    if len(set(args.datasets)) != len(args.datasets):
        p.error(f"--datasets: duplicates in {args.datasets}")
    if args.quick:
        args.epochs, args.root, args.arxiv_root, args.products_root = 1, None, None, None
    out = output_dir(p, args)
    check_rows_kept(p, out, STEM, planned_rows(args), rows_in)
    tmp = tempfile.TemporaryDirectory(prefix="scale-") if args.quick else None
    scratch = Path(tmp.name if tmp else (args.scratch or SCRATCH / "scale"))
    record: dict[str, Any] = {
        "provenance": provenance(
            command_line(f"{STEM}.py", sys.argv[1:] if argv is None else argv)
        ),
        "epochs": args.epochs,
        "sampler": SAMPLER,
        "quick": args.quick,
        "rows": [],
    }
    try:
        for key in args.datasets:
            record["rows"].append(bench_dataset(key, args, scratch))
    finally:
        if tmp is not None:
            tmp.cleanup()
    for row in record["rows"]:
        if row["dataset"] == "ogbn-products" and "sgcn" in row["runs"]:
            peak = row["runs"]["sgcn"]["peak_rss_mb"] / 1024
            met = "met" if peak < BAR_GB else "NOT met"
            record["bar"] = f"{met} ({peak:.2f} GiB at scale {row['scale']:g})"
    publish(STEM, record, to_markdown(record), out)
    return record


if __name__ == "__main__":
    main()
