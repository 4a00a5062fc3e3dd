"""Node classification on the Planetoid public splits: spiking GCN/GAT against PyG's GCN/GAT.

Each (dataset, model) row trains one model per seed with the configuration committed in
``benchmarks/configs/node_classification.toml``, and reports test accuracy (mean +- population
standard deviation over the seeds), time per epoch, peak memory and mean firing rate per
spiking layer. An ablation on the spiking GCN follows (normalisation, time steps, encoding).

Results go to the scratch folder ``benchmarks/results/local/`` (ignored by git), to ``--out
DIR``, or, with ``--update-results``, to the committed ``benchmarks/results/``. Every
finished run is appended to ``<folder>/node_classification.runs.jsonl`` as soon as it ends,
with its own provenance (command, machine, date, spikegraph commit); an interrupted benchmark
rerun with the same command skips what is already there. The summary keeps the rows of the
folder's results file that this command does not run, each with the provenance of its own
runs. Each row runs in a fresh child process, so its peak memory is its own; a child that
fails ends the benchmark with its error.

    python benchmarks/node_classification.py                      # full table, 10 seeds
    python benchmarks/node_classification.py --quick              # smoke run, writes nothing
    python benchmarks/node_classification.py --datasets Cora --models sgcn --seeds 0 1 2
    python benchmarks/node_classification.py --update-results     # rewrite the committed table
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    CONFIGS,
    BenchmarkChildError,
    add_output_options,
    append_run,
    check_names,
    command_line,
    group_provenance,
    legacy_provenance,
    load_config,
    merge_groups,
    model_config,
    now,
    output_dir,
    provenance,
    publish,
    read_results,
    read_runs,
    run_in_child,
    sources_md,
)

DATASETS = ["Cora", "CiteSeer", "PubMed"]
MODELS = ["gcn", "sgcn", "gat", "sgat"]
ENERGY_PROFILE = "45nm"  # spikegraph.cost profile of the energy column
LABELS = {"gcn": "GCN (PyG)", "gat": "GAT (PyG)", "sgcn": "spiking GCN", "sgat": "spiking GAT"}
STEM = "node_classification"
RUNS_FILE = f"{STEM}.runs.jsonl"
#: Start method of the rows' child processes (a fresh interpreter: peak memory is the row's).
MP_CONTEXT = "spawn"


def ablation_variants(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The ablation rows of the spiking GCN: ``name``, ``dataset``, ``options`` (on top of the
    tuned ones) and ``scale_features`` (divide the features by their maximum)."""
    return [dict(entry) for entry in config.get("ablation", {}).get("variants", [])]


def _child(job: dict[str, Any], queue: Any) -> None:
    """Train one row's missing seeds; send each finished run back as soon as it ends."""
    import torch

    from spikegraph._memory import current_rss_mb, peak_rss_mb
    from spikegraph.cost import energy_of
    from spikegraph.datasets import load_dataset
    from spikegraph.models import build_model, is_spiking
    from spikegraph.train import TrainConfig, fit

    torch.set_num_threads(job["threads"]) if job["threads"] else None
    data, num_classes = load_dataset(job["dataset"], root=job["root"])
    if job.get("scale_features"):
        data.x = data.x / data.x.max()
    base_rss = current_rss_mb()
    for seed in job["seeds"]:
        torch.manual_seed(seed)
        model = build_model(job["model"], data.num_features, num_classes, **job["model_options"])
        config = TrainConfig(**{**job["train_options"], "seed": seed, "progress": False})
        result = fit(model, data, config)
        peak = peak_rss_mb()  # the process's own high-water mark (not ru_maxrss's floor)
        # The selected model; "auto": event-driven for spiking models, dense (MACs) otherwise.
        energy = energy_of(model, data, profile=ENERGY_PROFILE)
        energy_event = (  # "auto" already counts spiking models event-driven
            {**energy, "execution": "event"}
            if is_spiking(job["model"])
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


def run_row(
    job: dict[str, Any],
    done: dict[tuple, dict],
    log_path: Path | None,
    session: dict[str, Any] | None = None,
) -> list[dict]:
    """Runs of one row: those already logged plus the missing seeds, trained in a child.

    Each new run carries ``session`` (the command's provenance) dated when it ended, and is
    appended to ``log_path`` at once. A child that fails raises
    :class:`~_common.BenchmarkChildError` with its traceback.
    """

    def current(seed: int) -> bool:
        item = done.get((job["key"], seed))
        return item is not None and all(
            item[k] == job[k] for k in ("model_options", "train_options")
        )

    missing = [s for s in job["seeds"] if not current(s)]
    if missing:
        label = f"row {job['key']}"
        for item in run_in_child(_child, {**job, "seeds": missing}, label, MP_CONTEXT):
            if session is not None:
                item["provenance"] = {**session, "date": now()}
            done[(item["key"], item["seed"])] = item
            if log_path is not None:
                append_run(log_path, item)
            print(
                f"  {job['key']} seed {item['seed']}: test {100 * item['result']['test_acc']:.2f}",
                flush=True,
            )
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
        "provenance": group_provenance(
            (key, r["seed"], r.get("provenance") or legacy_provenance(None)) for r in runs
        ),
    }


def _fmt_rates(rates: dict[str, float]) -> str:
    return ", ".join(f"{v:.3f}" for v in rates.values()) if rates else "-"


def to_markdown(record: dict[str, Any]) -> str:
    seed_lists = {tuple(r["seeds"]) for r in record["rows"]}
    per_row = len(seed_lists) > 1
    seeds = list(next(iter(seed_lists), ()))
    seeds_text = (
        "the seeds of each row (column *seeds*: how many)"
        if per_row
        else f"the {len(seeds)} seeds {seeds}"
    )
    lines = [
        "# Node classification, Planetoid public split",
        "",
        sources_md(record["sources"]),
        f"This summary was written by `{record['provenance']['command']}` on "
        f"{record['provenance']['date']}.",
        "",
        "Test accuracy: mean +- population standard deviation (`statistics.pstdev`) over "
        f"{seeds_text}; configurations in "
        "`benchmarks/configs/node_classification.toml`. Time per epoch is one training epoch "
        "(full batch). Peak memory is the child process's peak RSS above its RSS after loading "
        "the data. Firing rate: mean spikes per neuron and time step of each spiking hidden "
        "layer on the full graph. Energy: one full-graph inference of the selected model counted "
        "by `spikegraph.cost.energy_of` (spikes as accumulates, real-valued products as "
        f"multiply-accumulates), per node, under the {ENERGY_PROFILE!r} profile "
        "(4.6 pJ per 32-bit MAC, 0.9 pJ per AC, Horowitz 2014); mean over seeds. A spiking "
        "model's static input is counted at every time step (the literature's convention; "
        "`energy_of`'s default, see docs/cost.md). "
        "The ordinary models are counted twice: as they run (dense, on a GPU or an ordinary "
        "accelerator) and as if run event-driven (binary inputs as accumulates, zero messages "
        "not sent), the fairer baseline for a neuromorphic claim. "
        "`benchmarks/energy.py` breaks it down per layer.",
        "",
        "| dataset | model | test accuracy (%) | "
        + ("seeds | " if per_row else "")
        + "time / epoch (ms) | peak memory (MB) | "
        "firing rate per layer | energy / node (nJ) | energy / node, event-driven (nJ) |",
        "|---|---|---|" + ("---|" if per_row else "") + "---|---|---|---|---|",
    ]
    for row in record["rows"]:
        lines.append(
            f"| {row['dataset']} | {LABELS.get(row['model'], row['model'])} | "
            f"{100 * row['test_acc_mean']:.2f} +- {100 * row['test_acc_std']:.2f} | "
            + (f"{len(row['seeds'])} | " if per_row else "")
            + f"{1e3 * row['time_per_epoch_mean']:.1f} | {row['peak_above_data_mb']:.0f} | "
            f"{_fmt_rates(row['firing_rates'])} | {row['energy_per_node_pj'] / 1e3:.1f} | "
            f"{row['energy_event_per_node_pj'] / 1e3:.1f} |"
        )
    if record["ablation"]:
        lines += [
            "",
            "## Ablation (spiking GCN)",
            "",
            "Each variant changes one setting of the tuned spiking GCN. Test accuracy: mean +- "
            "population standard deviation (`statistics.pstdev`) over the row's seeds (column "
            "*seeds*: how many).",
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


def header_provenance(existing: dict[str, Any] | None) -> dict[str, Any] | None:
    """Provenance of the runs and rows of ``existing`` (a results file) that carry none: the
    one its header gave them (files written before runs carried their own provenance)."""
    if existing is None:
        return None
    if "sources" in existing:  # written by this version: it carries the old header along
        return existing.get("legacy_provenance")
    header = dict(existing.get("provenance") or {})
    if existing.get("note"):
        header["note"] = existing["note"]
    return header or None


def mode_of(args: argparse.Namespace) -> str:
    """How the rows of a command are configured: a results file holds rows of one mode."""
    config = f"--config {args.config}"
    return f"--quick (3 epochs) on {config}" if args.quick else config


# rows written before rows carried their mode: made by full runs of the default config
LEGACY_MODE = "--config node_classification"


def check_modes(
    parser: argparse.ArgumentParser, path: Path, existing: dict[str, Any] | None, mode: str
) -> None:
    """Refuse (``parser.error``) a results file holding a row of another mode than ``mode``:
    merging would put e.g. a 3-epoch ``--quick`` row into a table of the toml configs."""
    for part in ("rows", "ablation"):
        for row in (existing or {}).get(part, []):
            theirs = row.get("mode", LEGACY_MODE)
            if theirs != mode:
                parser.error(
                    f"{path}: row {row['key']!r} ({part}) was made with {theirs!r}, this "
                    f"command with {mode!r}: one table cannot mix them. Write elsewhere "
                    "(--out DIR)."
                )


def merge_rows(
    existing: list[dict[str, Any]], new: list[dict[str, Any]], header: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The rows of ``existing`` with those of ``new`` in their place (new keys appended): a
    summary of a few rows never drops the others. A kept row without provenance gets the
    header's."""
    by_key = {row["key"]: row for row in new}
    merged = []
    for row in existing:
        if row["key"] in by_key:
            merged.append(by_key.pop(row["key"]))
        elif row.get("provenance"):
            merged.append(row)
        else:
            prov = legacy_provenance(header)
            merged.append(
                {**row, "provenance": group_provenance((row["key"], s, prov) for s in row["seeds"])}
            )
    return merged + list(by_key.values())


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, argparse.ArgumentParser]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=DATASETS)
    p.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument("--config", default="node_classification", help="name in benchmarks/configs")
    p.add_argument("--no-ablation", action="store_true")
    p.add_argument("--threads", type=int, default=0, help="torch threads per run (0: default)")
    add_output_options(p)
    p.add_argument(
        "--note", default=None, help="how the runs were made (e.g. split across processes)"
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="Cora, 1 seed, 3 epochs, GCN and spiking GCN; writes nothing without --out",
    )
    args = p.parse_args(argv)
    from spikegraph.datasets import DATASETS as KNOWN_DATASETS

    args.datasets = check_names(p, "--datasets", args.datasets, KNOWN_DATASETS)
    for option, values in (("--datasets", args.datasets), ("--seeds", args.seeds)):
        if len(set(values)) != len(values):
            p.error(f"{option}: duplicates in {values}")
    if not (CONFIGS / f"{args.config}.toml").is_file():
        known = sorted(c.stem for c in CONFIGS.glob("*.toml"))
        p.error(f"--config: no {args.config}.toml in {CONFIGS}; expected one of {known}")
    return args, p


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args, parser = parse_args(argv)
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
    out = output_dir(parser, args)
    session = provenance(command_line(f"{STEM}.py", sys.argv[1:] if argv is None else argv))
    if args.note:
        session["note"] = args.note
    log_path, existing = None, None
    done: dict[tuple, dict] = {}
    if out is not None:
        existing = read_results(out / f"{STEM}.json")
        log_path = out / RUNS_FILE
        check_modes(parser, out / f"{STEM}.json", existing, mode_of(args))
    header = header_provenance(existing)
    for item in read_runs(log_path) if log_path is not None else []:
        item.setdefault("provenance", legacy_provenance(header))
        done[(item["key"], item["seed"])] = item
    main_jobs, ablation_jobs = build_jobs(args, config)
    rows, ablation = [], []
    for job in main_jobs:
        print(f"{job['key']}: {job['model_options']} {job['train_options']}", flush=True)
        rows.append(summarize(job["key"], run_row(job, done, log_path, session)))
    for job in ablation_jobs:
        print(f"{job['key']}: {job['model_options']}", flush=True)
        ablation.append(summarize(job["key"], run_row(job, done, log_path, session)))
    for row in rows + ablation:
        row["mode"] = mode_of(args)
    if existing is not None:
        rows = merge_rows(existing.get("rows", []), rows, header)
        ablation = merge_rows(existing.get("ablation", []), ablation, header)
    record = {
        "provenance": {k: v for k, v in session.items() if k != "note"},
        "sources": merge_groups(g for row in rows + ablation for g in row["provenance"]),
        "rows": rows,
        "ablation": ablation,
    }
    if header is not None:
        record["legacy_provenance"] = header
    publish(STEM, record, to_markdown(record), out)
    return record


if __name__ == "__main__":
    try:
        main()
    except BenchmarkChildError as err:
        raise SystemExit(f"node_classification: error: {err}") from None
