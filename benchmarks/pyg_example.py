"""spikegraph's models dropped into PyG's example scripts, with their class defaults only.

The shape of PyG's ``examples/gcn.py`` and ``examples/gat.py``: Cora's public split loaded
with :func:`spikegraph.datasets.load_dataset`, Adam with weight decay 5e-4 for 200 epochs,
full-batch, and the test accuracy of the epoch with the best validation accuracy.

Features: both as PyG's examples feed them, normalised to sum 1 per node
(``NormalizeFeatures``), and the binary bag-of-words features as loaded (``--features``). The
spiking models' default encoder (``max-scaled``) divides each node's features by their largest
value, so both give them the same input; PyG's models see the two differently.

Each model is built as a PyG user would swap it in, with nothing but its widths:

- ``sgcn``: ``SpikingGCN(dataset.num_features, 16, 2, dataset.num_classes)``, lr 0.01
  (PyG's ``examples/gcn.py``: hidden 16);
- ``sgat``: ``SpikingGAT(dataset.num_features, 64, 2, dataset.num_classes)``, lr 0.005
  (PyG's ``examples/gat.py``: 8 heads of 8 channels);
- ``gcn``, ``gat``: PyG's own ``GCN(..., 16, 2, ..., dropout=0.5)`` and
  ``GAT(..., 64, 2, ..., heads=8, dropout=0.6)`` in the same loop, for reference.

    python benchmarks/pyg_example.py                   # 3 seeds, into results/local/
    python benchmarks/pyg_example.py --update-results  # the same, replacing results/pyg_example.*
    python benchmarks/pyg_example.py --quick           # smoke run (1 seed, 3 epochs), no files
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

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

from spikegraph.datasets import load_dataset

STEM = "pyg_example"
#: Model -> (how it is built, shown in the results; learning rate of PyG's example).
MODELS = {
    "sgcn": ("SpikingGCN(F, 16, 2, C)", 0.01),
    "sgat": ("SpikingGAT(F, 64, 2, C)", 0.005),
    "gcn": ("torch_geometric GCN(F, 16, 2, C, dropout=0.5)", 0.01),
    "gat": ("torch_geometric GAT(F, 64, 2, C, heads=8, dropout=0.6)", 0.005),
}


def _normalized(data):
    from torch_geometric.transforms import NormalizeFeatures

    return NormalizeFeatures()(data.clone())


#: Features name -> how the loaded graph is turned into the one trained on.
FEATURES = {"normalized": _normalized, "raw": lambda data: data}


def make_model(name: str, num_features: int, num_classes: int) -> torch.nn.Module:
    """The model ``name`` as a user swaps it into PyG's example: widths only."""
    from torch_geometric.nn.models import GAT, GCN

    from spikegraph.models import SpikingGAT, SpikingGCN

    if name == "sgcn":
        return SpikingGCN(num_features, 16, 2, num_classes)
    if name == "sgat":
        return SpikingGAT(num_features, 64, 2, num_classes)
    if name == "gcn":
        return GCN(num_features, 16, 2, num_classes, dropout=0.5)
    return GAT(num_features, 64, 2, num_classes, heads=8, dropout=0.6)


def run(name: str, data, num_classes: int, seed: int, epochs: int) -> dict:
    """Train ``name`` as PyG's example does; the test accuracy at the best validation epoch."""
    torch.manual_seed(seed)
    model = make_model(name, data.num_features, num_classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=MODELS[name][1], weight_decay=5e-4)
    best_val = test_at_best = -1.0
    best_epoch = 0
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        optimizer.zero_grad()
        out = model(data.x, data.edge_index)
        F.cross_entropy(out[data.train_mask], data.y[data.train_mask]).backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            pred = model(data.x, data.edge_index).argmax(dim=-1)
        accs = [
            float((pred[m] == data.y[m]).float().mean())
            for m in (data.train_mask, data.val_mask, data.test_mask)
        ]
        if accs[1] > best_val:
            best_val, test_at_best, best_epoch = accs[1], accs[2], epoch
    return {
        "model": name,
        "seed": seed,
        "best_epoch": best_epoch,
        "val_acc": 100 * best_val,
        "test_acc": 100 * test_at_best,
        "seconds": time.perf_counter() - start,
    }


def row_name(model: str, features: str) -> str:
    return f"{model} ({features} features)"


def planned_rows(args: argparse.Namespace) -> dict[str, dict]:
    """The rows a run writes (a model on a kind of features), each with the settings it is
    trained with (the record holds them once)."""
    settings = {"epochs": args.epochs, "seeds": args.seeds}
    return {row_name(m, f): settings for f in args.features for m in args.models}


def rows_in(record: dict) -> dict[str, dict]:
    """The rows of a results file, as :func:`planned_rows` gives them."""
    settings = {"epochs": record["epochs"], "seeds": record["seeds"]}
    return {row_name(r["model"], r["features"]): settings for r in record["rows"]}


def to_markdown(record: dict) -> str:
    lines = [
        "# spikegraph's models in PyG's example scripts, class defaults only",
        "",
        provenance_md(record["provenance"]),
        f"Cora (public split), Adam (weight decay 5e-4), {record['epochs']} epochs, test "
        f"accuracy (%) at the epoch of best validation accuracy; seeds {record['seeds']}, mean "
        "+- population standard deviation (`statistics.pstdev`) over the "
        f"{len(record['seeds'])} seeds. "
        "Features: `normalized` = PyG's `NormalizeFeatures` (sum 1 per node, as in PyG's "
        "examples), `raw` = the binary features as loaded.",
        "",
        "| model | features | built as | lr | test acc (mean +- population std) | per seed |",
        "|---|---|---|---|---|---|",
    ]
    for row in record["rows"]:
        per_seed = ", ".join(f"{a:.1f}" for a in row["test_accs"])
        lines.append(
            f"| {row['model']} | {row['features']} | `{row['built_as']}` | {row['lr']} | "
            f"{row['mean']:.2f} +- {row['std']:.2f} | {per_seed} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument(
        "--features",
        nargs="+",
        choices=list(FEATURES),
        default=list(FEATURES),
        help="normalized: sum 1 per node, as PyG's examples (NormalizeFeatures); raw: the "
        "binary features as loaded (default: both)",
    )
    p.add_argument("--quick", action="store_true", help="1 seed, 3 epochs, writes nothing")
    add_output_options(p)
    args = p.parse_args(argv)
    args.models = check_names(p, "--models", args.models, MODELS)
    if args.quick:
        args.seeds, args.epochs = [0], 3
    if args.epochs < 1:
        p.error(f"--epochs must be >= 1, got {args.epochs}")
    if len(set(args.features)) != len(args.features):
        p.error(f"--features: duplicates in {args.features}")
    out = output_dir(p, args)
    check_rows_kept(p, out, STEM, planned_rows(args), rows_in)
    raw, num_classes = load_dataset("Cora", root=args.root)
    record = {
        "provenance": provenance(
            command_line("pyg_example.py", sys.argv[1:] if argv is None else argv)
        ),
        "epochs": args.epochs,
        "seeds": args.seeds,
        "rows": [],
    }
    for features, name in itertools.product(args.features, args.models):
        data = FEATURES[features](raw)
        runs = []
        for seed in args.seeds:
            r = run(name, data, num_classes, seed, args.epochs)
            print(
                f"{name} ({features} features) seed {seed}: test {r['test_acc']:.1f} at epoch "
                f"{r['best_epoch']} (val {r['val_acc']:.1f}, {r['seconds']:.0f} s)",
                flush=True,
            )
            runs.append(r)
        accs = [r["test_acc"] for r in runs]
        record["rows"].append(
            {
                "model": name,
                "features": features,
                "built_as": MODELS[name][0],
                "lr": MODELS[name][1],
                "mean": statistics.fmean(accs),
                "std": statistics.pstdev(accs),
                "test_accs": accs,
                "runs": runs,
            }
        )
    publish(STEM, record, to_markdown(record), out)
    return record


if __name__ == "__main__":
    main()
