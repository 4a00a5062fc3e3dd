"""Validation-only sweep of neuron defaults for ``SpikingGCN`` in PyG's example shape.

The question: does one of a few neuron settings serve a PyG user who swaps
``SpikingGCN(F, hidden, 2, C)`` into PyG's example script better than today's class
defaults? The studies ``neuron``, ``encoding`` and ``dropout`` try settings that cost nothing
extra at run time (same ``T``, same widths); ``tuned`` tries the model options that the
validation-only Optuna sweep of ``tune_sweeps.py`` selected for ``sgcn`` on Cora. Each
candidate trains as ``benchmarks/pyg_example.py`` does (Adam, lr 0.01, weight decay 5e-4,
200 epochs, full batch) and is scored by its best *validation* accuracy only: the test masks
are never read here. A candidate replaces the defaults only if its mean validation accuracy
over Cora and CiteSeer at hidden width 16 is higher, and at width 64 not lower by more than
0.3 points; the test accuracy of the chosen defaults is then read once, by ``pyg_example.py``.

    python benchmarks/class_defaults_sweep.py                   # into results/local/
    python benchmarks/class_defaults_sweep.py --update-results  # results/class_defaults_sweep.*
    python benchmarks/class_defaults_sweep.py --study tuned --update-results
    python benchmarks/class_defaults_sweep.py --quick           # smoke run, writes nothing
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    RESULTS,
    add_output_options,
    check_rows_kept,
    command_line,
    output_dir,
    provenance,
    provenance_md,
    publish,
)

from spikegraph.datasets import load_dataset

#: Results file stem of each study.
STEMS = {
    "neuron": "class_defaults_sweep",
    "encoding": "class_defaults_encoding",
    "dropout": "class_defaults_dropout",
    "tuned": "class_defaults_tuned",
}
#: Candidate neuron settings on top of the class defaults; all cost the same at run time.
CANDIDATES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "surrogate=sigmoid": {"surrogate": "sigmoid"},
    "surrogate=arctan": {"surrogate": "arctan"},
    "rectangular window 2 (surrogate_alpha=0.5)": {"surrogate_alpha": 0.5},
    "v_threshold=0.5": {"v_threshold": 0.5},
}
#: Candidate encodings (study ``encoding``): does scaling each node's features to a largest
#: magnitude of 1 serve users whose features are not on the threshold's scale (PyG's
#: ``NormalizeFeatures``, PubMed's TF-IDF), without costing those whose features are binary?
ENCODING_CANDIDATES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "encoder=max-scaled": {"encoder": "max-scaled"},
}
#: Candidate dropout rates (study ``dropout``): at PyG's example width (16) a spiking hidden
#: layer with dropout on its input and on its spikes may be regularised more than it needs;
#: every candidate costs the same at run time.
DROPOUT_CANDIDATES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "input_dropout=0.2": {"input_dropout": 0.2},
    "input_dropout=0.0": {"input_dropout": 0.0},
    "dropout=0.3": {"dropout": 0.3},
}
#: The committed sweep record whose selected trial gives the candidates of study ``tuned``.
TUNED_RECORD = RESULTS / "sweeps" / "Cora-sgcn.json"


def tuned_candidates(record_path: Path = TUNED_RECORD) -> dict[str, dict[str, Any]]:
    """Candidates of study ``tuned``: the model options of a validation-selected sweep trial.

    ``tune_sweeps.py`` chose the trial on validation accuracy only (its record says which);
    its model options other than the width become a candidate, as they are and at ``T=8``
    (the run-time cost of the defaults this study was run against; the tuned ``T`` may cost
    more). Its training options (learning rate, weight decay) and preprocessing are not class
    options: PyG's example shape keeps its own.

    Raises:
        ValueError: if the record is not a finished sweep of ``sgcn``.
    """
    from spikegraph.models.search_space import search_space, split_params

    record = json.loads(record_path.read_text())
    final = record.get("final") or {}
    if final.get("model") != "sgcn" or "params" not in final:
        raise ValueError(f"{record_path} is not a finished sweep record of model 'sgcn'")
    model_options, _, _ = split_params(final["params"], search_space("sgcn"))
    model_options.pop("hidden_channels", None)
    model_options.update(final.get("fixed") or {})
    # Optuna's grid floats (0.6000000000000001 for step 0.1) as the grid's values
    model_options = {
        k: round(v, 10) if isinstance(v, float) else v for k, v in model_options.items()
    }
    label = f"{final['dataset']}-sgcn sweep, trial {final['trial']}"
    return {
        "defaults": {},
        label: dict(sorted(model_options.items())),
        f"{label}, T=8": dict(sorted({**model_options, "T": 8}.items())),
    }


def candidates_source(record_path: Path = TUNED_RECORD) -> str:
    """Where study ``tuned``'s candidates came from, unambiguously: the record's path with
    its search-space version and the commit its trials ran at (a later sweep of the cell
    replaces the file at that path, and its trial numbers name other configurations)."""
    config = json.loads(record_path.read_text()).get("config") or {}
    try:
        where = str(record_path.relative_to(RESULTS))
    except ValueError:
        where = str(record_path)
    return (
        f"{where} (search-space version {config.get('space_version', 1)}, trials at commit "
        f"{config.get('commit') or 'not recorded'})"
    )


STUDIES = {
    "neuron": CANDIDATES,
    "encoding": ENCODING_CANDIDATES,
    "dropout": DROPOUT_CANDIDATES,
    "tuned": tuned_candidates,
}
#: Suffix of a dataset's name when its features are row-normalised (PyG's NormalizeFeatures).
NORMALIZED = " (NormalizeFeatures)"


def best_val_accuracy(data, num_classes: int, hidden: int, options: dict, seed: int, epochs: int):
    """Best validation accuracy (%) of ``SpikingGCN(F, hidden, 2, C, **options)`` trained in
    PyG's example shape, and its epoch; the test nodes are not scored."""
    from spikegraph.models import SpikingGCN

    torch.manual_seed(seed)
    model = SpikingGCN(data.num_features, hidden, 2, num_classes, **options)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    best, best_epoch = -1.0, 0
    for epoch in range(1, epochs + 1):
        model.train()
        optimizer.zero_grad()
        out = model(data.x, data.edge_index)
        F.cross_entropy(out[data.train_mask], data.y[data.train_mask]).backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            pred = model(data.x, data.edge_index)[data.val_mask].argmax(dim=-1)
        val = 100 * float((pred == data.y[data.val_mask]).float().mean())
        if val > best:
            best, best_epoch = val, epoch
    return best, best_epoch


def planned_rows(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The rows a run writes (one per candidate of its study), each with the settings it is
    measured with: its options, the datasets (with their row-normalised copies in study
    ``encoding``), widths, seeds and epochs."""
    candidates = STUDIES[args.study]
    if callable(candidates):
        candidates = candidates()
    suffixes = ("", NORMALIZED) if args.study == "encoding" else ("",)
    datasets = [name + suffix for name in args.datasets for suffix in suffixes]
    settings = {"datasets": datasets, "hidden": args.hidden, "seeds": args.seeds,
                "epochs": args.epochs}  # fmt: skip
    return {cand: {"options": options, **settings} for cand, options in candidates.items()}


def rows_in(record: dict) -> dict[str, dict[str, Any]]:
    """The rows of a results file, as :func:`planned_rows` gives them."""
    settings = {k: record[k] for k in ("datasets", "hidden", "seeds", "epochs")}
    return {cand: {"options": row["options"], **settings} for cand, row in record["rows"].items()}


def to_markdown(record: dict) -> str:
    lines = [
        f"# Class-default sweep of SpikingGCN's {record.get('study', 'neuron')} "
        "(validation accuracy only)",
        "",
        provenance_md(record["provenance"]),
        f"PyG's example shape (Adam, lr 0.01, weight decay 5e-4, {record['epochs']} epochs), "
        f"best validation accuracy (%), mean over seeds {record['seeds']}. Test accuracy is "
        "not read here. Rule: a candidate replaces the defaults only if its mean over the "
        "datasets at hidden 16 is higher and at hidden 64 not lower by more than 0.3 points.",
        "",
    ]
    if "candidates_from" in record:
        lines += [
            f"Candidates: the model options (all but the width) of the validation-selected "
            f"trial of `{record['candidates_from']}`, as they are and at T=8 (the run-time "
            "cost of today's defaults; the cost of a spiking layer grows with T).",
            "",
        ]
    keys = [(d, h) for h in record["hidden"] for d in record["datasets"]]
    header = " | ".join(f"{d}, hidden {h}" for d, h in keys)
    lines += [
        f"| candidate | options | {header} | mean, hidden 16 | mean, hidden 64 |",
        "|---|---|" + "---|" * (len(keys) + 2),
    ]
    for name, row in record["rows"].items():
        cells = " | ".join(f"{row['by'][f'{d}/{h}']:.2f}" for d, h in keys)
        means = " | ".join(
            f"{row['mean_by_hidden'][str(h)]:.2f}" if str(h) in row["mean_by_hidden"] else "-"
            for h in (16, 64)
        )
        lines.append(f"| {name} | `{json.dumps(row['options'])}` | {cells} | {means} |")
    lines += ["", f"Chosen: **{record['chosen']}**", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--study",
        choices=sorted(STUDIES),
        default="neuron",
        help="candidates: neuron settings (results class_defaults_sweep.*), encodings "
        "(results class_defaults_encoding.*; datasets also with row-normalised features), "
        "dropout rates (results class_defaults_dropout.*) or the model options of the "
        "validation-selected trial of the Cora sgcn sweep (results class_defaults_tuned.*)",
    )
    p.add_argument("--datasets", nargs="+", default=None, help="default: Cora CiteSeer, and "
                   "PubMed for the encoding study")  # fmt: skip
    p.add_argument("--hidden", type=int, nargs="+", default=[16, 64])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument("--quick", action="store_true", help="Cora, hidden 16, 1 seed, 3 epochs")
    add_output_options(p)
    args = p.parse_args(argv)
    if args.datasets is None:
        args.datasets = ["Cora", "CiteSeer"] + (["PubMed"] if args.study == "encoding" else [])
    if args.quick:
        args.datasets, args.hidden, args.seeds, args.epochs = ["Cora"], [16], [0], 3
    if 16 not in args.hidden:
        p.error("--hidden must include 16 (the width of PyG's example, which the rule reads)")
    out = output_dir(p, args)
    try:
        planned = planned_rows(args)
    except (OSError, ValueError) as err:  # study tuned: no finished sweep record to read
        p.error(f"--study {args.study}: {err}")
    check_rows_kept(p, out, STEMS[args.study], planned, rows_in)
    record: dict[str, Any] = {
        "provenance": provenance(
            command_line("class_defaults_sweep.py", sys.argv[1:] if argv is None else argv)
        ),
        "study": args.study,
        "datasets": [],
        "hidden": args.hidden,
        "seeds": args.seeds,
        "epochs": args.epochs,
        "rows": {},
    }
    data = {}
    for name in args.datasets:
        graph, num_classes = load_dataset(name, root=args.root)
        data[name] = (graph, num_classes)
        if args.study == "encoding":
            from torch_geometric.transforms import NormalizeFeatures

            data[name + NORMALIZED] = (NormalizeFeatures()(graph.clone()), num_classes)
    record["datasets"] = list(data)
    candidates = STUDIES[args.study]
    if callable(candidates):
        candidates = candidates()
        record["candidates_from"] = candidates_source()
    for cand, options in candidates.items():
        by: dict[str, float] = {}
        runs = []
        for hidden in args.hidden:
            for name, (graph, num_classes) in data.items():
                accs = []
                for seed in args.seeds:
                    start = time.perf_counter()
                    val, epoch = best_val_accuracy(
                        graph, num_classes, hidden, options, seed, args.epochs
                    )
                    accs.append(val)
                    runs.append(
                        {"dataset": name, "hidden": hidden, "seed": seed, "val_acc": val,
                         "best_epoch": epoch, "seconds": time.perf_counter() - start}
                    )  # fmt: skip
                key = f"{name}/{hidden}"
                by[key] = statistics.fmean(accs)
                print(f"{cand} {name} hidden {hidden}: val {by[key]:.2f}", flush=True)
        mean_by_hidden = {
            str(h): statistics.fmean(by[f"{d}/{h}"] for d in data) for h in args.hidden
        }
        record["rows"][cand] = {
            "options": options,
            "by": by,
            "mean_by_hidden": mean_by_hidden,
            "runs": runs,
        }
    base = record["rows"]["defaults"]["mean_by_hidden"]
    chosen, best = "defaults", base["16"]
    for cand, row in record["rows"].items():
        m = row["mean_by_hidden"]
        keeps_wide = "64" not in m or m["64"] >= base["64"] - 0.3
        if m["16"] > best and keeps_wide:
            chosen, best = cand, m["16"]
    record["chosen"] = chosen
    publish(STEMS[args.study], record, to_markdown(record), out)
    return record


if __name__ == "__main__":
    main()
