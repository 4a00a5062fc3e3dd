"""Node classification on the Planetoid public splits: spiking GCN/GAT against PyG's GCN/GAT.

Each (dataset, model) row trains one model per seed with the configuration committed in
``benchmarks/configs/node_classification.toml``, and reports mean +- std test accuracy, time
per epoch, peak memory and mean firing rate per spiking layer. An ablation on the spiking
GCN follows (normalisation, time steps, encoding).

Every finished run is appended to ``<out>/node_classification.runs.jsonl`` as soon as it
ends; an interrupted benchmark rerun with the same command skips what is already there.
Each row runs in a fresh child process, so its peak memory is its own.

    python benchmarks/node_classification.py                      # full table, 10 seeds
    python benchmarks/node_classification.py --quick              # smoke run, writes nothing
    python benchmarks/node_classification.py --datasets Cora --models sgcn --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, load_config, model_config, provenance, provenance_md, write_results

DATASETS = ["Cora", "CiteSeer", "PubMed"]
MODELS = ["gcn", "sgcn", "gat", "sgat"]
ENERGY_PROFILE = "45nm"  # spikegraph.cost profile of the energy column
LABELS = {"gcn": "GCN (PyG)", "gat": "GAT (PyG)", "sgcn": "spiking GCN", "sgat": "spiking GAT"}


def ablation_variants(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The ablation rows of the spiking GCN: ``name``, ``dataset``, ``options`` (on top of the
    tuned ones) and ``scale_features`` (divide the features by their maximum)."""
    return [dict(entry) for entry in config.get("ablation", {}).get("variants", [])]


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def _child(job: dict[str, Any], queue: mp.Queue) -> None:
    """Train one row's missing seeds; send each finished run back as soon as it ends."""
    import torch

    from spikegraph.cost import energy_of
    from spikegraph.datasets import load_dataset
    from spikegraph.models import SPIKING, build_model
    from spikegraph.train import TrainConfig, fit

    torch.set_num_threads(job["threads"]) if job["threads"] else None
    data, num_classes = load_dataset(job["dataset"], root=job["root"])
    if job.get("scale_features"):
        data.x = data.x / data.x.max()
    base_rss = _rss_mb()
    for seed in job["seeds"]:
        torch.manual_seed(seed)
        model = build_model(job["model"], data.num_features, num_classes, **job["model_options"])
        config = TrainConfig(**{**job["train_options"], "seed": seed, "progress": False})
        result = fit(model, data, config)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # The selected model; "auto": event-driven for spiking models, dense (MACs) otherwise.
        energy = energy_of(model, data, profile=ENERGY_PROFILE)
        energy_event = (  # "auto" already counts spiking models event-driven
            {**energy, "execution": "event"}
            if job["model"] in SPIKING
            else energy_of(model, data, profile=ENERGY_PROFILE, execution="event")
        )
        queue.put(
            {
                "key": job["key"],
                "seed": seed,
                "dataset": job["dataset"],
                "model": job["model"],
                "model_options": job["model_options"],
                "train_options": job["train_options"],
                "result": result.to_dict(),
                "peak_rss_mb": peak,
                "base_rss_mb": base_rss,
                "num_parameters": sum(p.numel() for p in model.parameters()),
                "energy": energy,
                "energy_event": energy_event,
            }
        )
    queue.put(None)


def run_row(job: dict[str, Any], done: dict[tuple, dict], log_path: Path | None) -> list[dict]:
    """Runs of one row: those already logged plus the missing seeds, trained in a child."""

    def current(seed: int) -> bool:
        item = done.get((job["key"], seed))
        return item is not None and all(
            item[k] == job[k] for k in ("model_options", "train_options")
        )

    missing = [s for s in job["seeds"] if not current(s)]
    if missing:
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        proc = ctx.Process(target=_child, args=({**job, "seeds": missing}, queue))
        proc.start()
        while (item := queue.get()) is not None:
            done[(item["key"], item["seed"])] = item
            if log_path is not None:
                with open(log_path, "a") as fh:
                    fh.write(json.dumps(item) + "\n")
            print(
                f"  {job['key']} seed {item['seed']}: test {100 * item['result']['test_acc']:.2f}",
                flush=True,
            )
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"row {job['key']} failed (exit code {proc.exitcode})")
    return [done[(job["key"], s)] for s in job["seeds"]]


def summarize(key: str, runs: list[dict]) -> dict[str, Any]:
    accs = [r["result"]["test_acc"] for r in runs]
    rates: dict[str, list[float]] = {}
    for r in runs:
        for layer, v in r["result"]["firing_rates"].items():
            rates.setdefault(layer, []).append(v)
    return {
        "key": key,
        "dataset": runs[0]["dataset"],
        "model": runs[0]["model"],
        "model_options": runs[0]["model_options"],
        "train_options": runs[0]["train_options"],
        "seeds": [r["seed"] for r in runs],
        "test_acc_mean": statistics.fmean(accs),
        "test_acc_std": statistics.pstdev(accs),
        "time_per_epoch_mean": statistics.fmean(r["result"]["time_per_epoch"] for r in runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "peak_above_data_mb": max(r["peak_rss_mb"] - r["base_rss_mb"] for r in runs),
        "firing_rates": {k: statistics.fmean(v) for k, v in rates.items()},
        "num_parameters": runs[0]["num_parameters"],
        "energy_per_node_pj": statistics.fmean(r["energy"]["energy_per_node_pj"] for r in runs),
        "energy_event_per_node_pj": statistics.fmean(
            r["energy_event"]["energy_per_node_pj"] for r in runs
        ),
        "energy_profile": runs[0]["energy"]["profile"],
        "energy_profile_source": runs[0]["energy"]["profile_source"],
    }


def _fmt_rates(rates: dict[str, float]) -> str:
    return ", ".join(f"{v:.3f}" for v in rates.values()) if rates else "-"


def to_markdown(record: dict[str, Any]) -> str:
    lines = [
        "# Node classification, Planetoid public split",
        "",
        provenance_md(record["provenance"]),
        *([f"Note: {record['note']}", ""] if record.get("note") else []),
        f"Mean +- std test accuracy over seeds {record['seeds']}; configurations in "
        "`benchmarks/configs/node_classification.toml`. Time per epoch is one training epoch "
        "(full batch). Peak memory is the child process's peak RSS above its RSS after loading "
        "the data. Firing rate: mean spikes per neuron and time step of each spiking hidden "
        "layer on the full graph. Energy: one full-graph inference of the selected model counted "
        "by `spikegraph.cost.energy_of` (spikes as accumulates, real-valued products as "
        f"multiply-accumulates), per node, under the {ENERGY_PROFILE!r} profile "
        "(4.6 pJ per 32-bit MAC, 0.9 pJ per AC, Horowitz 2014); mean over seeds. "
        "The ordinary models are counted twice: as they run (dense, on a GPU or an ordinary "
        "accelerator) and as if run event-driven (binary inputs as accumulates, zero messages "
        "not sent), the fairer baseline for a neuromorphic claim. "
        "`benchmarks/energy.py` breaks it down per layer.",
        "",
        "| dataset | model | test accuracy (%) | time / epoch (ms) | peak memory (MB) | "
        "firing rate per layer | energy / node (nJ) | energy / node, event-driven (nJ) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in record["rows"]:
        lines.append(
            f"| {row['dataset']} | {LABELS.get(row['model'], row['model'])} | "
            f"{100 * row['test_acc_mean']:.2f} +- {100 * row['test_acc_std']:.2f} | "
            f"{1e3 * row['time_per_epoch_mean']:.1f} | {row['peak_above_data_mb']:.0f} | "
            f"{_fmt_rates(row['firing_rates'])} | {row['energy_per_node_pj'] / 1e3:.1f} | "
            f"{row['energy_event_per_node_pj'] / 1e3:.1f} |"
        )
    if record["ablation"]:
        lines += [
            "",
            "## Ablation (spiking GCN)",
            "",
            "Each variant changes one setting of the tuned spiking GCN.",
            "",
            "| variant | dataset | test accuracy (%) | seeds | time / epoch (ms) | firing rate | "
            "energy / node (nJ) |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in record["ablation"]:
            lines.append(
                f"| {row['key'].split('/', 1)[1]} | {row['dataset']} | "
                f"{100 * row['test_acc_mean']:.2f} +- {100 * row['test_acc_std']:.2f} | "
                f"{len(row['seeds'])} | "
                f"{1e3 * row['time_per_epoch_mean']:.1f} | {_fmt_rates(row['firing_rates'])} | "
                f"{row['energy_per_node_pj'] / 1e3:.1f} |"
            )
    return "\n".join(lines) + "\n"


def build_jobs(args: argparse.Namespace, config: dict[str, Any]) -> tuple[list, list]:
    common = {"root": args.root, "seeds": args.seeds, "threads": args.threads}
    main_jobs = []
    for dataset in args.datasets:
        for model in args.models:
            model_opts, train_opts = model_config(config, model, dataset)
            main_jobs.append(
                {
                    **common,
                    "key": f"{dataset}/{model}",
                    "dataset": dataset,
                    "model": model,
                    "model_options": model_opts,
                    "train_options": train_opts,
                }
            )
    ablation_jobs = []
    if not args.no_ablation:
        for variant in ablation_variants(config):
            dataset, model = variant["dataset"], "sgcn"
            if dataset not in args.datasets:
                continue
            model_opts, train_opts = model_config(config, model, dataset)
            ablation_jobs.append(
                {
                    **common,
                    "key": f"ablation/{variant['name']}",
                    # A costly variant may run on the first `num_seeds` seeds only.
                    "seeds": args.seeds[: variant.get("num_seeds", len(args.seeds))],
                    "dataset": dataset,
                    "model": model,
                    "model_options": {**model_opts, **variant.get("options", {})},
                    "train_options": train_opts,
                    "scale_features": variant.get("scale_features", False),
                }
            )
    return main_jobs, ablation_jobs


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=DATASETS)
    p.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument("--config", default="node_classification", help="name in benchmarks/configs")
    p.add_argument("--no-ablation", action="store_true")
    p.add_argument("--threads", type=int, default=0, help="torch threads per run (0: default)")
    p.add_argument("--out", default=None, help=f"results folder (default {RESULTS})")
    p.add_argument(
        "--note", default=None, help="how the runs were made (e.g. split across processes)"
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="Cora, 1 seed, 3 epochs, GCN and spiking GCN; writes nothing",
    )
    args = p.parse_args(argv)
    config = load_config(args.config)
    if args.quick:
        args.datasets, args.models, args.seeds, args.no_ablation = (
            ["Cora"],
            ["gcn", "sgcn"],
            [0],
            True,
        )
        for model in args.models:
            config.setdefault(model, {}).setdefault("train", {})["epochs"] = 3

    out = Path(args.out) if args.out else (None if args.quick else RESULTS)
    log_path = None
    done: dict[tuple, dict] = {}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        log_path = out / "node_classification.runs.jsonl"
        if log_path.exists():
            for line in log_path.read_text().splitlines():
                item = json.loads(line)
                done[(item["key"], item["seed"])] = item
    main_jobs, ablation_jobs = build_jobs(args, config)
    rows, ablation = [], []
    for job in main_jobs:
        print(f"{job['key']}: {job['model_options']} {job['train_options']}", flush=True)
        rows.append(summarize(job["key"], run_row(job, done, log_path)))
    for job in ablation_jobs:
        print(f"{job['key']}: {job['model_options']}", flush=True)
        ablation.append(summarize(job["key"], run_row(job, done, log_path)))
    record = {
        "provenance": provenance(),
        "seeds": args.seeds,
        "rows": rows,
        "ablation": ablation,
        "note": args.note,
    }
    md = to_markdown(record)
    print(md)
    if out is not None:
        write_results("node_classification", record, md, out)
    return record


if __name__ == "__main__":
    main()
