"""Energy of the spiking GCN against PyG's GCN on Cora, at the accuracy they reach.

Trains both models (one run per seed), counts one full-graph inference of each with
``spikegraph.cost`` and prices it with an energy profile (default: 45 nm, Horowitz, ISSCC
2014). Each model is trained in its validation-selected configuration, read from its sweep
record ``results/sweeps/<dataset>-<model>.json`` (``benchmarks/tune_sweeps.py``; ``--sweeps``
for another folder): its options, feature preprocessing and training budget, on the final
evaluation's seeds, so the counted models are those of the tuned results table, and the
script checks that their test accuracies equal the record's seed for seed. ``--config TOML``
reads options from a TOML file instead (tables ``[sgcn.Cora]`` / ``[gcn.Cora]`` with
sub-tables ``model`` and ``train``; the format of ``benchmarks/configs/``).

Besides the headline (spiking model counted event-driven with its static input counted at
every time step, ordinary model counted dense, as the field does), it reports the variants:
the static input counted once, STFN folded into thresholds, and the ordinary GCN counted
event-driven too (only its non-zero inputs sent), the stricter baseline;
every ratio is given under both static-input conventions.

    python benchmarks/energy.py                 # Cora, the final evaluation's seeds
    python benchmarks/energy.py --quick         # one seed, 50 epochs, writes nothing

Data come from ``--root`` or ``$SPIKEGRAPH_DATA``. Results go to
``benchmarks/results/local/energy.{json,md}`` (``--out`` for another folder,
``--update-results`` for the committed ``benchmarks/results/``) with the command, machine,
date and spikegraph commit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    RESULTS,
    add_output_options,
    check_names,
    check_rows_kept,
    command_line,
    output_dir,
    provenance,
    provenance_md,
    publish,
)

from spikegraph.cost import PROFILES, STATIC_INPUT, count, get_profile
from spikegraph.datasets import DATASETS, load_dataset
from spikegraph.experiments.cost import load_tuned_config, model_cost
from spikegraph.experiments.tune import (
    SelectedConfig,
    preprocess_features,
    read_records,
    selected_config,
)
from spikegraph.models import MODELS
from spikegraph.train import TrainConfig

REPRICE = ("45nm", "fp16", "int8")


def selected_configs(
    p: argparse.ArgumentParser, folder: Path, dataset: str, models: list[str]
) -> dict[str, SelectedConfig]:
    """The validation-selected configuration of each model from its sweep record in
    ``folder``; a missing or unfinished record, or final evaluations on other seeds, end the
    run with a usage error naming them."""
    out = {}
    for name in models:
        path = folder / f"{dataset}-{name}.json"
        if not path.is_file():
            p.error(
                f"no sweep record {path} for {name} on {dataset}: run benchmarks/tune_sweeps.py "
                f"--models {name} --datasets {dataset} first, or give --config TOML"
            )
        try:
            out[name] = selected_config(read_records(path))
        except ValueError as exc:
            p.error(f"{path}: {exc}")
    seeds = {name: sel.seeds for name, sel in out.items()}
    if len(set(seeds.values())) > 1:
        p.error(f"the final evaluations ran on other seeds: {seeds}; give --seeds")
    return out


def options_line(selected: dict[str, SelectedConfig]) -> str:
    """Where each model's configuration comes from, for the results file."""
    return "validation-selected configurations: " + "; ".join(
        f"{name}: sweeps/{sel.dataset}-{name}.json, trial {sel.trial}, {sel.features} features, "
        f"study at commit {(sel.commit or 'unknown')[:7]}"
        for name, sel in selected.items()
    )


def row_settings(
    args: argparse.Namespace, options: dict[str, tuple[dict, dict]], features: dict[str, str]
) -> dict:
    """The settings a run's row is measured with: seeds, epochs, energy profile, and each
    model's options and feature preprocessing."""
    return {
        "seeds": args.seeds,
        "epochs": args.epochs,
        "profile": args.profile,
        "options": {name: {"model": o[0], "train": o[1]} for name, o in options.items()},
        "features": features,
    }


def rows_in(record: dict) -> dict[str, dict]:
    """The row of a results file with its settings, as :func:`row_settings` gives them."""
    settings = {k: record[k] for k in ("seeds", "epochs", "options", "features")}
    name = f"{record['dataset']}: {record['models'][0]} vs {record['models'][1]}"
    return {name: {**settings, "profile": record["profile"]["name"]}}


def reproduces_final(sel: SelectedConfig | None, seed: int, test_acc: float) -> bool | None:
    """Whether a run's test accuracy equals the final evaluation's for ``seed`` (``None``
    without a sweep record or when the final evaluation did not use that seed)."""
    if sel is None or seed not in sel.seeds:
        return None
    return test_acc == sel.test_acc[sel.seeds.index(seed)]


def recount(run, data, profile, **options):
    args = [data.x, data.edge_index]
    with torch.no_grad():
        return count(run.model, *args, profile=profile, **options)


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.pstdev(values) if len(values) > 1 else 0.0


def summarise(runs: list[dict]) -> dict:
    """Means and standard deviations over seeds of every numeric entry."""
    out = {}
    for key in runs[0]:
        values = [r[key] for r in runs]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            m, s = mean_std([float(v) for v in values])
            out[key] = {"mean": m, "std": s}
    return out


def reproduction_line(record: dict) -> str:
    """Whether the counted models are those of the tuned table: their test accuracies
    against the final evaluation's, seed for seed."""
    parts = []
    for role, name in zip(("spiking", "ordinary"), record["models"]):
        flags = [r[f"{role}_reproduces_final"] for r in record["runs"]]
        checked = [f for f in flags if f is not None]
        if checked:
            parts.append(f"{name} {sum(checked)} of {len(checked)} seeds")
    if not parts:
        return "- final evaluation: not compared (no sweep record, or other seeds)"
    return "- test accuracy equal to the sweep record's final evaluation (same seed): " + ", ".join(
        parts
    )


def features_note(record: dict) -> str:
    """Which features each model reads, and what that means for the event-driven count."""
    sp, ordn = record["models"]
    features = record["features"]
    how = "each its validation-selected preprocessing" if record["selected"] else "as loaded"
    note = f"Inputs: {sp} reads {features[sp]} features, {ordn} {features[ordn]} features ({how})."
    if features[ordn] != "raw":
        note += (
            f" Counted event-driven, {ordn}'s first layer therefore receives real-valued events, "
            "one MAC per non-zero feature and output; normalising after the transform instead "
            "(`D^-1 (X W)`, the same outputs) would make those events binary (ACs) at the price "
            "of one MAC per hidden entry."
        )
    return note


def to_markdown(record: dict) -> str:
    s = record["summary"]
    sp, ordn = record["models"]
    prof = record["profile"]
    acc = lambda k: f"{100 * s[k]['mean']:.2f} +- {100 * s[k]['std']:.2f}"  # noqa: E731
    uj = lambda k: f"{s[k]['mean'] / 1e6:.3f} +- {s[k]['std'] / 1e6:.3f}"  # noqa: E731
    nj = lambda k: f"{s[k]['mean'] / 1e3:.3f}"  # noqa: E731
    ratio = lambda k: f"{s[k]['mean']:.4f} +- {s[k]['std']:.4f}"  # noqa: E731
    same = all(s[f"spiking_folded_{k}"] == s[f"spiking_{k}"] for k in ("acs", "macs"))
    no_stfn = " (nothing to fold: the model has no STFN)" if same else ""
    lines = [
        f"# Energy on {record['dataset']}: {sp} against {ordn}",
        "",
        provenance_md(record["provenance"]) + f"- options: {record['config']}",
        reproduction_line(record),
        f"- profile: **{prof['name']}** (MAC {prof['mac_pj']} pJ, AC {prof['ac_pj']} pJ); "
        f"source: {prof['source']}",
        "",
        f"Seeds {record['seeds']}; mean +- population standard deviation (`statistics.pstdev`) "
        f"over the {len(record['seeds'])} seeds. One inference = one eval-mode "
        "forward pass on the full graph (all nodes); energy per node divides it by the "
        "number of nodes. Memory access is not counted (see docs/cost.md). Static input: "
        f"*per step* = {STATIC_INPUT['per-step']}, the convention of spiking-network energy "
        "estimates (SOPs = firing rate x T x FLOPs for every layer fed spikes; "
        f"docs/cost.md); *once* = {STATIC_INPUT['once']}.",
        "",
        "| model | counted as | test accuracy (%) | ACs | MACs | energy / inference (uJ) | "
        "energy / node (nJ) |",
        "|---|---|---|---|---|---|---|",
        f"| {sp} | event-driven, static input per step | {acc('spiking_test_acc')} | "
        f"{s['spiking_acs']['mean']:,.0f} | {s['spiking_macs']['mean']:,.0f} | "
        f"{uj('spiking_energy_pj')} | {nj('spiking_energy_per_node_pj')} |",
        f"| {sp} | event-driven, static input once | {acc('spiking_test_acc')} | "
        f"{s['spiking_once_acs']['mean']:,.0f} | {s['spiking_once_macs']['mean']:,.0f} | "
        f"{uj('spiking_once_energy_pj')} | {nj('spiking_once_energy_per_node_pj')} |",
        f"| {sp} | event-driven, static input per step, STFN folded{no_stfn} | "
        f"{acc('spiking_test_acc')} | "
        f"{s['spiking_folded_acs']['mean']:,.0f} | {s['spiking_folded_macs']['mean']:,.0f} | "
        f"{uj('spiking_folded_energy_pj')} | {nj('spiking_folded_energy_per_node_pj')} |",
        f"| {ordn} | dense | {acc('ordinary_test_acc')} | "
        f"{s['ordinary_acs']['mean']:,.0f} | {s['ordinary_macs']['mean']:,.0f} | "
        f"{uj('ordinary_energy_pj')} | {nj('ordinary_energy_per_node_pj')} |",
        f"| {ordn} | event-driven (zero inputs not sent) | {acc('ordinary_test_acc')} | "
        f"{s['ordinary_event_acs']['mean']:,.0f} | {s['ordinary_event_macs']['mean']:,.0f} | "
        f"{uj('ordinary_event_energy_pj')} | {nj('ordinary_event_energy_per_node_pj')} |",
        "",
        f"**Energy ratio {sp} / {ordn} ({prof['name']}): {ratio('ratio')}** "
        f"(spiking counted event-driven with its static input counted at every time step, "
        f"{ordn} dense, as spiking-network papers do); {ratio('ratio_once')} with the static "
        "input counted once.",
        "",
        "| ratio | " + " | ".join(REPRICE) + " |",
        "|---|" + "---|" * len(REPRICE),
    ]
    for label, key in (
        (f"{sp}, static input per step / {ordn} (dense)", "ratio"),
        (f"{sp}, static input once / {ordn} (dense)", "ratio_once"),
        (f"{sp}, static input per step, STFN folded / {ordn} (dense)", "ratio_folded"),
        (f"{sp}, static input per step / {ordn} (event-driven)", "ratio_vs_event"),
        (f"{sp}, static input once / {ordn} (event-driven)", "ratio_once_vs_event"),
    ):
        cells = []
        for p in REPRICE:
            k = key if p == prof["name"] else f"{key}_{p}"
            cells.append(f"{s[k]['mean']:.4f}" if k in s else "")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Reading these numbers: the headline ratio follows the field's convention (the "
        f"spiking model on event-driven hardware, {ordn} on dense hardware), and is dominated "
        f"by {ordn}'s first layer, a dense product over the sparse bag-of-words features. "
        f"Counted event-driven too, {ordn} skips the same zero inputs as the spiking model, "
        f"and the ratio becomes {s['ratio_vs_event']['mean']:.2f} "
        f"({s['ratio_once_vs_event']['mean']:.2f} with the static input counted once). "
        "On top of its first layer, the spiking model pays a transform per step for its hidden "
        "spike trains, an aggregation per step for its real-valued messages (up to T times "
        f"{ordn}'s), and its neurons' (and STFN's, where used) own operations; {ordn} pays "
        "for the width of its hidden layer. Memory access is not counted by either.",
        "",
        features_note(record),
        "",
        f"Per-layer counts of seed {record['seeds'][0]}:",
        "",
        "```",
        record["tables"]["spiking"],
        "",
        record["tables"]["spiking_once"],
        "",
        record["tables"]["ordinary"],
        "```",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="Cora")
    p.add_argument("--model", default="sgcn", help="the spiking model")
    p.add_argument("--vs", default="gcn", help="the ordinary model")
    p.add_argument(
        "--seeds", type=int, nargs="+", default=None,
        help="default: the final evaluation's seeds (with --config: 0..9)",
    )  # fmt: skip
    p.add_argument(
        "--epochs", type=int, default=None,
        help=f"default: the sweep's budget (with --config: the file's, else {TrainConfig.epochs})",
    )  # fmt: skip
    p.add_argument("--profile", default="45nm")
    p.add_argument(
        "--sweeps", default=None,
        help="folder of the sweep records (default: results/sweeps)",
    )  # fmt: skip
    p.add_argument(
        "--config", default=None,
        help="TOML of model and training options, instead of the sweep records",
    )  # fmt: skip
    p.add_argument("--quick", action="store_true", help="the first seed, 50 epochs, writes nothing")
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    add_output_options(p)
    args = p.parse_args(argv)
    args.dataset = check_names(p, "--dataset", [args.dataset], DATASETS)[0]
    args.model = check_names(p, "--model", [args.model], MODELS)[0]
    args.vs = check_names(p, "--vs", [args.vs], MODELS)[0]
    args.profile = check_names(p, "--profile", [args.profile], PROFILES)[0]
    if args.config is not None and args.sweeps is not None:
        p.error("give --config or --sweeps, not both")
    if args.config is not None and not Path(args.config).is_file():
        p.error(f"--config: no file {args.config}")
    selected = (
        {}
        if args.config is not None
        else selected_configs(
            p, Path(args.sweeps) if args.sweeps else RESULTS / "sweeps", args.dataset,
            [args.model, args.vs],
        )
    )  # fmt: skip
    if args.seeds is None:
        args.seeds = list(next(iter(selected.values())).seeds) if selected else list(range(10))
    if len(set(args.seeds)) != len(args.seeds):
        p.error(f"--seeds: duplicates in {args.seeds}")
    if args.quick:
        args.seeds, args.epochs = args.seeds[:1], 50
    if selected:
        options = {n: (sel.model_options, sel.train_options) for n, sel in selected.items()}
    else:
        options = {
            n: load_tuned_config(args.config, n, args.dataset) for n in (args.model, args.vs)
        }
    features = {name: (selected[name].features if selected else "raw") for name in options}
    out = output_dir(p, args)
    # a row of other settings (a --quick run's one seed and 50 epochs) is another row
    check_rows_kept(
        p,
        out,
        "energy",
        {f"{args.dataset}: {args.model} vs {args.vs}": row_settings(args, options, features)},
        rows_in,
    )
    command = command_line("energy.py", sys.argv[1:] if argv is None else argv)
    profile = get_profile(args.profile)
    data, num_classes = load_dataset(args.dataset, root=args.root)
    if selected:
        inputs = {n: preprocess_features(data, sel.features) for n, sel in selected.items()}
    else:
        inputs = {args.model: data, args.vs: data}
    per_seed, tables = [], {}
    for seed in args.seeds:
        runs = {}
        for role, name in (("spiking", args.model), ("ordinary", args.vs)):
            model_opts, train_opts = options[name]
            runs[role] = model_cost(
                name,
                inputs[name],
                num_classes,
                dataset=args.dataset,
                epochs=args.epochs,
                seed=seed,
                profile=profile,
                model_options=model_opts,
                train_options=train_opts,
            )
        sp, ordn = runs["spiking"], runs["ordinary"]
        once = recount(sp, inputs[args.model], profile, static_input="once")
        folded = recount(sp, inputs[args.model], profile, fold_norm=True, static_input="per-step")
        event = recount(ordn, inputs[args.vs], profile, execution="event")
        row = {
            "seed": seed,
            "spiking_test_acc": sp.test_acc,
            "ordinary_test_acc": ordn.test_acc,
            "spiking_epochs": sp.epochs_run,
            "ordinary_epochs": ordn.epochs_run,
        }
        for role, name in (("spiking", args.model), ("ordinary", args.vs)):
            row[f"{role}_reproduces_final"] = reproduces_final(
                selected.get(name), seed, runs[role].test_acc
            )
        for key, report in (
            ("spiking", sp.report),
            ("spiking_once", once),
            ("spiking_folded", folded),
            ("ordinary", ordn.report),
            ("ordinary_event", event),
        ):
            t = report.total
            row.update(
                {
                    f"{key}_acs": t.acs,
                    f"{key}_macs": t.macs,
                    f"{key}_energy_pj": t.energy_pj,
                    f"{key}_energy_per_node_pj": t.energy_per_node_pj,
                }
            )
        row["spiking_firing_rates"] = sp.report.firing_rates()
        for name in REPRICE:
            suffix = "" if name == profile.name else f"_{name}"
            a, o, f, b, e = (
                r.with_profile(name).total.energy_pj
                for r in (sp.report, once, folded, ordn.report, event)
            )
            row[f"ratio{suffix}"] = a / b
            row[f"ratio_once{suffix}"] = o / b
            row[f"ratio_folded{suffix}"] = f / b
            row[f"ratio_vs_event{suffix}"] = a / e
            row[f"ratio_once_vs_event{suffix}"] = o / e
        per_seed.append(row)
        if not tables:
            tables = {
                "spiking": sp.report.table(),
                "spiking_once": once.table(),
                "ordinary": ordn.report.table(),
            }
        print(
            f"seed {seed}: {args.model} acc {100 * sp.test_acc:.2f} % "
            f"{sp.report.total.energy_pj / 1e6:.3f} uJ | {args.vs} acc {100 * ordn.test_acc:.2f} % "
            f"{ordn.report.total.energy_pj / 1e6:.3f} uJ | ratio {row['ratio']:.4f}",
            flush=True,
        )
    record = {
        "provenance": provenance(command),
        "dataset": args.dataset,
        "models": [args.model, args.vs],
        "seeds": args.seeds,
        "config": (
            options_line(selected) if selected else f"options from {Path(args.config).name}"
        ),
        "options": {name: {"model": o[0], "train": o[1]} for name, o in options.items()},
        "selected": bool(selected),
        "features": features,
        "epochs": args.epochs,
        "profile": profile.to_dict(),
        "static_input": {"headline": sp.report.static_input, "conventions": STATIC_INPUT},
        "summary": summarise(per_seed),
        "runs": per_seed,
        "tables": tables,
    }
    publish("energy", record, to_markdown(record), out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
