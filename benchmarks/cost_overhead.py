"""How much time counting adds to the forward pass it observes.

For each dataset and model (freshly initialised, registry defaults, eval mode, no gradients),
times the plain forward pass ``model(x, edge_index)`` and ``spikegraph.cost.count(model, x,
edge_index)`` (hooks registered, forward pass, hooks removed, report assembled), interleaved
in the same run, and reports the ratio of the medians. The issue's bar is a ratio of at most
1.20.

    python benchmarks/cost_overhead.py            # Cora and PubMed, sgcn, sgat, gcn
    python benchmarks/cost_overhead.py --quick    # Cora, fewer repetitions, writes nothing

Data come from ``--root`` or ``$SPIKEGRAPH_DATA``. Results go to
``benchmarks/results/local/cost_overhead.{json,md}`` (``--out`` for another folder,
``--update-results`` for the committed ``benchmarks/results/``) with the command, machine,
date and spikegraph commit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    add_output_options,
    check_names,
    check_rows_kept,
    command_line,
    output_dir,
    provenance,
    provenance_md,
    publish,
)

from spikegraph.cost import count
from spikegraph.datasets import DATASETS, load_dataset
from spikegraph.models import MODELS, build_model

BAR = 1.20


def time_once(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(model, data, repeats: int, warmup: int) -> dict:
    """Interleaved timings of the plain forward pass and of counting it."""
    x, edge_index = data.x, data.edge_index

    def plain():
        return model(x, edge_index)

    def counted():
        return count(model, x, edge_index)

    with torch.no_grad():
        for _ in range(warmup):
            plain()
            counted()
        base, with_count = [], []
        for i in range(repeats):
            # Alternate the order so that neither always runs on a warmer cache.
            if i % 2 == 0:
                base.append(time_once(plain))
                with_count.append(time_once(counted))
            else:
                with_count.append(time_once(counted))
                base.append(time_once(plain))
        report = count(model, x, edge_index)
    med_base, med_count = statistics.median(base), statistics.median(with_count)
    paired = [c / b for c, b in zip(with_count, base)]
    return {
        "forward_median_s": med_base,
        "count_median_s": med_count,
        "forward_min_s": min(base),
        "count_min_s": min(with_count),
        "ratio": statistics.median(paired),
        "ratio_of_medians": med_count / med_base,
        "ratio_min": min(with_count) / min(base),
        "repeats": repeats,
        "ops": report.total.ops,
        "energy_pj": report.total.energy_pj,
    }


def to_markdown(record: dict) -> str:
    lines = [
        "# Counting overhead",
        "",
        provenance_md(record["provenance"]) + f"- threads: {record['threads']} (torch and numba)",
        "",
        "Time of `count(model, x, edge_index)` (hooks on, forward pass, hooks off, report) over "
        "the time of the plain forward pass `model(x, edge_index)`, both measured in this run, "
        "interleaved, freshly initialised models in eval mode without gradients. "
        f"Bar: ratio <= {BAR:.2f}.",
        "",
        "| dataset | model | forward (ms, median) | count (ms, median) | ratio | "
        "ratio of medians | ratio of minima | within bar |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in record["results"]:
        ok = "yes" if r["ratio"] <= BAR else "no"
        lines.append(
            f"| {r['dataset']} | {r['model']} | {1e3 * r['forward_median_s']:.1f} | "
            f"{1e3 * r['count_median_s']:.1f} | {r['ratio']:.3f} | "
            f"{r['ratio_of_medians']:.3f} | {r['ratio_min']:.3f} | {ok} |"
        )
    lines.append("")
    lines.append(
        "*ratio* is the median, over "
        f"{record['results'][0]['repeats']} interleaved pairs, of count time / forward time "
        "(robust to load that drifts during the run); the ratio of the medians and of the "
        "minima are given as checks. The machine is shared with other jobs, so single timings "
        "are noisy; only ratios measured in the same run are reported."
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=["Cora", "PubMed"])
    p.add_argument("--models", nargs="+", default=["sgcn", "sgat", "gcn"])
    p.add_argument("--repeats", type=int, default=31)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="torch (and numba) threads")
    p.add_argument("--quick", action="store_true", help="Cora only, 7 repetitions, 1 warm-up")
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    add_output_options(p)
    args = p.parse_args(argv)
    args.datasets = check_names(p, "--datasets", args.datasets, DATASETS)
    args.models = check_names(p, "--models", args.models, MODELS)
    for option, values in (("--datasets", args.datasets), ("--models", args.models)):
        if len(set(values)) != len(values):
            p.error(f"{option}: duplicates in {values}")
    if args.quick:
        args.datasets, args.repeats, args.warmup = ["Cora"], 7, 1
    out = output_dir(p, args)
    check_rows_kept(
        p,
        out,
        "cost_overhead",
        [f"{d}/{m}" for d in args.datasets for m in args.models],
        lambda r: [f"{x['dataset']}/{x['model']}" for x in r["results"]],
    )
    command = command_line("cost_overhead.py", sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    try:  # the LIF kernels are numba-parallel: give them the same number of threads
        import numba

        numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    except ImportError:
        pass
    results = []
    for dataset in args.datasets:
        data, num_classes = load_dataset(dataset, root=args.root)
        for name in args.models:
            torch.manual_seed(0)
            model = build_model(name, data.num_features, num_classes).eval()
            r = measure(model, data, args.repeats, args.warmup)
            r.update(dataset=dataset, model=name)
            results.append(r)
            print(
                f"{dataset:8s} {name:5s} forward {1e3 * r['forward_median_s']:8.1f} ms  "
                f"count {1e3 * r['count_median_s']:8.1f} ms  ratio {r['ratio']:.3f} "
                f"(of medians {r['ratio_of_medians']:.3f}, of minima {r['ratio_min']:.3f})",
                flush=True,
            )
    record = {
        "provenance": provenance(command),
        "threads": args.threads,
        "bar": BAR,
        "results": results,
    }
    publish("cost_overhead", record, to_markdown(record), out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
