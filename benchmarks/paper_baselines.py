"""The ordinary baselines at their papers' published settings, trained as the tuned table's
final evaluation trains a selected configuration: does PyG's GCN / GAT reproduce the
literature here?

``tuned.md`` (``tune_sweeps.py``) chooses every model's settings on validation with a budget
of 20 trials; this script trains the settings the GCN and GAT papers published instead, chosen
by nobody here, so that the baselines' implementation can be checked against the papers'
numbers apart from what the search found. Each setting is a point of the baselines' search
space (version 3) and runs through :func:`spikegraph.experiments.tune.train_runs`, the code of
the table's final evaluation, with its budget (200 epochs, patience 100 on validation
accuracy, the test accuracy of the best validation epoch) and seeds (100-109); the features
are row-normalised, as in both papers.

- GCN, Kipf & Welling (ICLR 2017), every dataset: 16 hidden channels, dropout 0.5 on the input
  and hidden layer, learning rate 0.01, weight decay 5e-4.
- GAT, Velickovic et al. (ICLR 2018): 8 heads of 8 channels, dropout 0.6 on the input, the
  hidden layer and the attention coefficients (PyG's ``GAT`` uses its ``dropout`` for both),
  learning rate 0.005 and weight decay 5e-4; on PubMed 0.01 and 0.001. The output layer has
  one head on Cora and CiteSeer (``out_heads=1``, a model option outside the search space,
  held fixed as a study's fixed options are) and averages 8 on PubMed (PyG's ``GAT`` with
  ``heads=8``).

Where it differs from the papers (the table's protocol, or PyG's model): weight decay on every
layer (Kipf & Welling decay the first layer's weights only); 200 epochs with patience 100 on
validation accuracy (Kipf & Welling: 200 epochs, stopping after 10 epochs without a lower
validation loss; GAT: up to 100,000 epochs, patience 100 on validation loss and accuracy).

``--epochs`` takes several budgets (the table's 200, and a longer one closer to the GAT
paper's training, which stops on patience only): each is a row of its own.

Every finished run is appended to ``paper_baselines_runs.jsonl`` in the output folder with
everything that determines it (dataset, model, settings, seed, budget, the last commit that
changed the library, and the package versions): a stopped run resumes, and only a run of
exactly the same job is read back. The results show, for each row, the runs of the log that
belong to the current settings, whichever command made them (each command is listed with the
runs it made): those of the newest library (commit and versions) that ran the row's jobs,
which the row names; runs of two libraries are never mixed in one row.

    python benchmarks/paper_baselines.py                    # into results/local/
    python benchmarks/paper_baselines.py --update-results   # adding to results/paper_baselines.*
    python benchmarks/paper_baselines.py --models gat --epochs 1000 --update-results
    python benchmarks/paper_baselines.py --quick            # smoke run: Cora, 1 seed, 2 epochs
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    add_output_options,
    append_run,
    check_names,
    command_line,
    group_provenance,
    library_commit,
    now,
    output_dir,
    provenance,
    publish,
    read_runs,
    seeds_md,
    sources_md,
)

from spikegraph.datasets import load_dataset
from spikegraph.experiments import tune
from spikegraph.experiments.node_classification import versions

STEM = "paper_baselines"
RUNS_FILE = f"{STEM}_runs.jsonl"
DATASETS = ["Cora", "CiteSeer", "PubMed"]
#: Search-space version whose parameters the settings below are written in.
SPACE_VERSION = 3
_GCN = {"hidden_channels": 16, "dropout": 0.5, "input_dropout": 0.5, "lr": 0.01,
        "weight_decay": 5e-4, "features": "row-normalised"}  # fmt: skip
_GAT = {"hidden_channels": 64, "heads": 8, "dropout": 0.6, "input_dropout": 0.6, "lr": 0.005,
        "weight_decay": 5e-4, "features": "row-normalised"}  # fmt: skip
#: (model, dataset) -> the paper's settings, as search-space parameters.
SETTINGS: dict[tuple[str, str], dict] = {
    **{("gcn", d): _GCN for d in DATASETS},
    ("gat", "Cora"): _GAT,
    ("gat", "CiteSeer"): _GAT,
    ("gat", "PubMed"): {**_GAT, "lr": 0.01, "weight_decay": 1e-3},
}
#: (model, dataset) -> model options outside the search space, held fixed (as a study's
#: ``fixed`` options): the GAT paper's single output head on Cora and CiteSeer.
FIXED: dict[tuple[str, str], dict] = {
    ("gat", "Cora"): {"out_heads": 1},
    ("gat", "CiteSeer"): {"out_heads": 1},
}
#: (model, dataset) -> the test accuracy (%) the paper reports.
PAPER = {
    ("gcn", "Cora"): 81.5, ("gcn", "CiteSeer"): 70.3, ("gcn", "PubMed"): 79.0,
    ("gat", "Cora"): 83.0, ("gat", "CiteSeer"): 72.5, ("gat", "PubMed"): 79.0,
}  # fmt: skip
CITATION = {"gcn": "Kipf & Welling, ICLR 2017", "gat": "Velickovic et al., ICLR 2018"}


def job(model: str, dataset: str, seed: int, epochs: int, args: argparse.Namespace) -> dict:
    """Everything that determines one run: a logged run is read back only when its job is
    this one, key for key."""
    spec = {
        "dataset": dataset,
        "model": model,
        "params": SETTINGS[model, dataset],
        "space_version": SPACE_VERSION,
        "seed": seed,
        "epochs": epochs,
        "patience": args.patience,
        "split": "public",
        "commit": args.commit,
        "versions": args.versions,
    }
    if (model, dataset) in FIXED:  # (absent otherwise: the jobs logged before it existed)
        spec["fixed"] = FIXED[model, dataset]
    return spec


def current(spec: dict) -> bool:
    """Whether a logged job is one of this script's current settings (on any library)."""
    key = (spec.get("model"), spec.get("dataset"))
    return (
        key in SETTINGS
        and spec.get("params") == SETTINGS[key]
        and spec.get("fixed") == FIXED.get(key)
        and spec.get("space_version") == SPACE_VERSION
        and spec.get("split") == "public"
    )


def one_run(spec: dict, data, num_classes: int) -> dict:
    """Train one job (``data``: its dataset with its features already preprocessed)."""
    start = time.perf_counter()
    (result,) = tune.train_runs(
        data, num_classes, spec["model"], spec["params"], [spec["seed"]], spec["epochs"],
        spec["patience"], fixed=spec.get("fixed"), space_version=spec["space_version"],
    )  # fmt: skip
    return {
        "job": spec,
        "val_acc": result.val_acc,
        "test_acc": result.test_acc,
        "best_epoch": result.best_epoch,
        "seconds": time.perf_counter() - start,
    }


def library_of(job: dict) -> str:
    """A job's library, as a key: the last commit that changed ``spikegraph/`` and the
    package versions (absent from the jobs logged before they were kept: ``None``)."""
    return json.dumps({"commit": job["commit"], "versions": job.get("versions")}, sort_keys=True)


def newest_library(runs: list[dict], library: str) -> list[dict]:
    """The runs among ``runs`` (one row's) made on the newest library that made any: the
    current one (``library``, :func:`library_of`), else the one whose last run is the
    newest. A row never mixes two libraries."""
    last: dict[str, str] = {}
    for r in runs:
        made_by, date = library_of(r["job"]), r["provenance"]["date"]
        last[made_by] = max(last.get(made_by, date), date)
    newest = library if library in last else max(last, key=lambda c: last[c])
    return [r for r in runs if library_of(r["job"]) == newest]


def summarise(runs: list[dict], commit: str | None, versions: dict | None = None) -> dict:
    """One row per (dataset, model, epochs, patience) among ``runs`` (finished runs of the
    current settings, each ``{"job", "val_acc", "test_acc", "best_epoch", "provenance",
    ...}``), from the runs of the newest library that ran it (:func:`newest_library`);
    ``commit`` and ``versions``: the library now."""
    now_library = library_of({"commit": commit, "versions": versions})
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        j = r["job"]
        groups.setdefault((j["dataset"], j["model"], j["epochs"], j["patience"]), []).append(r)
    order = {d: i for i, d in enumerate(DATASETS)}
    rows, shown = [], []
    for key in sorted(groups, key=lambda k: (order[k[0]], k[1] != "gcn", k[2], k[3] or 0)):
        dataset, model, epochs, patience = key
        mine = sorted(newest_library(groups[key], now_library), key=lambda r: r["job"]["seed"])
        shown += mine
        test = [100 * r["test_acc"] for r in mine]
        rows.append({
            "dataset": dataset, "model": model, "epochs": epochs, "patience": patience,
            "params": SETTINGS[model, dataset], "fixed": FIXED.get((model, dataset), {}),
            "paper": PAPER[model, dataset], "library_commit": mine[0]["job"]["commit"],
            "library_versions": mine[0]["job"].get("versions"),
            "seeds": [r["job"]["seed"] for r in mine], "test_acc": test,
            "val_acc": [100 * r["val_acc"] for r in mine],
            "test_acc_mean": statistics.fmean(test), "test_acc_std": statistics.pstdev(test),
            "best_epochs": [r["best_epoch"] for r in mine],
        })  # fmt: skip
    sources = group_provenance(
        (f"{r['job']['dataset']} {r['job']['model']} {r['job']['epochs']} epochs",
         r["job"]["seed"], r["provenance"]) for r in shown
    )  # fmt: skip
    return {"library_commit": commit, "library_versions": versions,
            "space_version": SPACE_VERSION, "rows": rows, "sources": sources}  # fmt: skip


def _params_md(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "features")


def _library_md(commit: str | None, versions: dict | None) -> str:
    text = "unknown" if commit is None else commit[:7]
    if versions:
        text += f", torch {versions.get('torch')}, PyG {versions.get('torch_geometric')}"
    return text


def to_markdown(summary: dict) -> str:
    lines = [
        "# The baselines at their papers' published settings",
        "",
        sources_md(summary["sources"]),
        "Library: the last commit that changed `spikegraph/` (or `pyproject.toml`) when the "
        "row's runs were made, with the versions of torch and PyG (runs logged before the "
        "versions were kept name the commit alone: their machine line names torch); each row "
        "shows the runs of the newest library that ran its jobs. The library now: "
        f"{_library_md(summary['library_commit'], summary['library_versions'])}.",
        "",
        "Settings published by the GCN and GAT papers, chosen by nobody here, trained as "
        "`tuned.md`'s final evaluation trains a selected configuration (`tune.train_runs`: at "
        "most the row's epochs, early stopping after the row's patience in epochs without a "
        "better validation accuracy, the test accuracy of the best validation epoch), on the "
        "public split with row-normalised features. The tuned table's budget is 200 epochs "
        "with patience 100. How this differs from the papers' own training: "
        "`benchmarks/paper_baselines.py`'s docstring. Test acc.: mean ± population standard "
        "deviation (`statistics.pstdev`) over the row's seeds (column *seeds*: how many, and "
        "which). Paper: the test accuracy the paper reports; difference: the mean here minus it.",
        "",
        "| dataset | model | settings (paper) | epochs (most) | patience | test acc. (%) | "
        "paper (%) | difference | seeds | mean best epoch | library |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summary["rows"]:
        lines.append(
            f"| {row['dataset']} | {row['model']} | "
            f"{_params_md({**row['params'], **row['fixed']})} "
            f"({CITATION[row['model']]}) | {row['epochs']} | {row['patience']} | "
            f"{row['test_acc_mean']:.2f} ± {row['test_acc_std']:.2f} | {row['paper']:.1f} | "
            f"{row['test_acc_mean'] - row['paper']:+.2f} | "
            f"{len(row['seeds'])} ({seeds_md(row['seeds'])}) | "
            f"{statistics.fmean(row['best_epochs']):.0f} | "
            f"{_library_md(row['library_commit'], row['library_versions'])} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    budget = tune.Budget(trials=1)  # the tuned table's budget of every training run
    p.add_argument("--datasets", nargs="+", default=DATASETS)
    p.add_argument("--models", nargs="+", default=list(CITATION))
    p.add_argument("--seeds", type=int, nargs="+", default=list(tune.FINAL_SEEDS))
    p.add_argument(
        "--epochs",
        type=int,
        nargs="+",
        default=[budget.epochs],
        help="most epochs of a run; several: one row each (default: the table's)",
    )
    p.add_argument("--patience", type=int, default=budget.patience)
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument("--quick", action="store_true", help="Cora, 1 seed, 2 epochs, writes nothing")
    add_output_options(p)
    args = p.parse_args(argv)
    if args.quick:
        args.datasets, args.seeds, args.epochs = ["Cora"], [args.seeds[0]], [2]
    args.datasets = check_names(p, "--datasets", args.datasets, DATASETS)
    args.models = check_names(p, "--models", args.models, list(CITATION))
    for name in ("epochs", "seeds"):
        values = getattr(args, name)
        if len(set(values)) != len(values):
            p.error(f"--{name}: duplicates in {values}")
    if min(args.epochs) < 1:
        p.error(f"--epochs must be >= 1, got {args.epochs}")
    if args.patience is not None and args.patience < 1:
        p.error(f"--patience must be >= 1, got {args.patience}")
    out = output_dir(p, args)
    args.commit, args.versions = library_commit(), versions()
    session = provenance(command_line(f"{STEM}.py", sys.argv[1:] if argv is None else argv))
    log = out / RUNS_FILE if out is not None else None
    plan = [job(m, d, s, e, args) for d in args.datasets for m in args.models
            for e in args.epochs for s in args.seeds]  # fmt: skip
    # every logged run of these settings: the plan's on this library are not run again; the
    # others (other budgets, seeds or datasets, another command's, another library's) are
    # shown too, each row from one library (summarise)
    logged = [r for r in (read_runs(log) if log is not None else []) if current(r["job"])]
    done = {json.dumps(r["job"], sort_keys=True): r for r in logged}
    todo = [spec for spec in plan if json.dumps(spec, sort_keys=True) not in done]
    if len(todo) < len(plan):
        print(f"{len(plan) - len(todo)} of {len(plan)} runs read back from {log}", flush=True)
    graphs: dict[str, tuple] = {}
    for i, spec in enumerate(todo, 1):
        if spec["dataset"] not in graphs:
            data, num_classes = load_dataset(spec["dataset"], root=args.root)
            graphs[spec["dataset"]] = (
                tune.preprocess_features(data, "row-normalised"),
                num_classes,
            )
        rec = one_run(spec, *graphs[spec["dataset"]])
        rec["provenance"] = {**session, "date": now()}
        done[json.dumps(spec, sort_keys=True)] = rec
        if log is not None:
            append_run(log, rec)
        print(
            f"[{i}/{len(todo)}] {spec['dataset']} {spec['model']} seed {spec['seed']} "
            f"({spec['epochs']} epochs at most): test {100 * rec['test_acc']:.2f} at epoch "
            f"{rec['best_epoch']} ({rec['seconds']:.0f} s)",
            flush=True,
        )
    summary = summarise(list(done.values()), args.commit, args.versions)
    publish(STEM, summary, to_markdown(summary), out)
    return summary


if __name__ == "__main__":
    main()
