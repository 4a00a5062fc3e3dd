"""Validation-only sweep of the layer sizes of the layer-wise samplers (FastGCN, LADIES, AS-GCN).

The question: how many nodes per layer does each layer-wise sampler need on PubMed
(``split="full"``) to train PyG's ``GCN`` and the spiking GCN as well as it can, at the
budget of ``benchmarks/samplers_accuracy.py`` (12 epochs, 1024 seeds per batch, the same
pinned model options)? Each candidate size trains once per model and seed and is scored by
its best *validation* accuracy over the epochs (full-graph evaluation); the test masks are
never read here. The rule that picks a sampler's default: among the candidates whose mean
validation accuracy over the models and seeds is within ``--tolerance`` points of the best
one's, the one with the least mean time per epoch (measured in the same run). The test
accuracy of the chosen sizes is then read once, by ``samplers_accuracy.py``.

    python benchmarks/sampler_sizes_sweep.py                   # into results/local/
    python benchmarks/sampler_sizes_sweep.py --update-results  # results/sampler_sizes_sweep.*
    python benchmarks/sampler_sizes_sweep.py --quick           # smoke run, writes nothing
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    add_output_options,
    check_rows_kept,
    command_line,
    output_dir,
    provenance,
    provenance_md,
    write_results,
)
from samplers_accuracy import MODEL_OPTIONS

STEM = "sampler_sizes_sweep"
#: Candidate nodes per layer, per sampler: one size for every layer, or ``(-1, s)``: the
#: input layer exact (every in-neighbour; FastGCN's authors precompute ``ÂX`` so), ``s`` above.
GRID: dict[str, list[int | tuple[int, int]]] = {
    "fastgcn": [1024, 2048, 4096, 8192, (-1, 1024), (-1, 4096)],
    "ladies": [256, 512, 1024, 2048, (-1, 512)],
    "asgcn": [512, 1024, 2048, 4096],
}


def layer_sizes(size: int | tuple[int, int] | list[int], num_layers: int) -> list[int]:
    """The ``layer_sizes`` option of a candidate for a ``num_layers``-layer model."""
    if isinstance(size, int):
        return [size] * num_layers
    return [size[0]] + [size[1]] * (num_layers - 1)


def best_val_accuracy(
    data, num_classes: int, model_name: str, sampler: str, size: int, seed: int, args
) -> tuple[float, int, float]:
    """Best validation accuracy (%) over ``args.epochs`` mini-batch epochs, its epoch and the
    seconds per epoch; only the validation nodes are scored."""
    from spikegraph.models import build_model
    from spikegraph.train.minibatch import build_loader, minibatch_step
    from spikegraph.train.trainer import predict

    torch.manual_seed(seed)
    model = build_model(model_name, data.num_features, num_classes, **MODEL_OPTIONS[model_name])
    setup = build_loader(
        sampler,
        data,
        num_layers=model.num_layers,
        batch_size=args.batch_size,
        options={"layer_sizes": layer_sizes(size, model.num_layers)},
        seed=seed,
    )
    step = minibatch_step(setup.loader)
    from spikegraph.models import train_defaults

    lr = train_defaults(model_name).get("lr", 0.01)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=5e-4)
    best, best_epoch, spent = -1.0, 0, 0.0
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        step(model, data, optimizer)
        spent += time.perf_counter() - start
        pred = predict(model, data)[data.val_mask].argmax(dim=-1)
        val = 100 * float((pred == data.y[data.val_mask]).float().mean())
        if val > best:
            best, best_epoch = val, epoch
    return best, best_epoch, spent / args.epochs


def choose(rows: list[dict], tolerance: float) -> dict[str, Any]:
    """Per sampler: the candidate with the least mean time per epoch among those within
    ``tolerance`` points of the best mean validation accuracy."""
    chosen = {}
    for sampler in sorted({r["sampler"] for r in rows}):
        mine = [r for r in rows if r["sampler"] == sampler]
        keys = {str(r["size"]): r["size"] for r in mine}
        val = {k: statistics.fmean(r["val_acc"] for r in mine if str(r["size"]) == k) for k in keys}
        cost = {
            k: statistics.fmean(r["s_per_epoch"] for r in mine if str(r["size"]) == k) for k in keys
        }
        best = max(val.values())
        chosen[sampler] = keys[min((k for k in keys if val[k] >= best - tolerance), key=cost.get)]
    return chosen


def to_markdown(record: dict) -> str:
    lines = [
        "# Layer sizes of the layer-wise samplers (validation accuracy only)",
        "",
        provenance_md(record["provenance"]),
        f"- dataset: {record['dataset']} (split=full); models {record['models']} with the "
        f"options of samplers_accuracy.py; seeds {record['seeds']}; {record['epochs']} epochs, "
        f"{record['batch_size']} seeds per batch; score: best validation accuracy over the "
        "epochs (full-graph evaluation); the test masks are not read",
        f"- rule: among the candidates within {record['tolerance']} points of the best mean "
        "validation accuracy (over models and seeds), the one with the least mean time per "
        "epoch",
        "",
        "| sampler | nodes per layer | model | seed | val acc (%) | best epoch | s/epoch |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in record["rows"]:
        lines.append(
            f"| {r['sampler']} | {r['size']} | {r['model']} | {r['seed']} | "
            f"{r['val_acc']:.2f} | {r['best_epoch']} | {r['s_per_epoch']:.2f} |"
        )
    lines += ["", "Chosen (the samplers' class defaults follow these):", ""]
    lines += [
        f"- {s}: layer_sizes {layer_sizes(n, 2)} (2 layers)" for s, n in record["chosen"].items()
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument("--dataset", default="PubMed")
    p.add_argument("--samplers", nargs="+", default=list(GRID), choices=list(GRID))
    p.add_argument("--models", nargs="+", default=list(MODEL_OPTIONS), choices=list(MODEL_OPTIONS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--tolerance", type=float, default=0.3, help="points")
    p.add_argument("--quick", action="store_true", help="Cora, 1 epoch, two small sizes")
    add_output_options(p)
    args = p.parse_args(argv)
    grid = dict(GRID)
    if args.quick:
        args.dataset, args.epochs, args.batch_size = "Cora", 1, 64
        grid = {s: [32, 64] for s in args.samplers}
        args.models = args.models[:1]
    out = output_dir(p, args)
    planned = [f"{s}/{layer_sizes(z, 2)}" for s in args.samplers for z in grid[s]]
    check_rows_kept(
        p,
        out,
        STEM,
        planned,
        lambda r: [f"{x['sampler']}/{layer_sizes(x['size'], 2)}" for x in r["rows"]],
    )
    from spikegraph.datasets import load_dataset

    data, num_classes = load_dataset(args.dataset, root=args.root, split="full")
    prov = provenance(command_line(f"{STEM}.py", sys.argv[1:] if argv is None else argv))
    rows = []
    for sampler in args.samplers:
        for size in grid[sampler]:
            for model in args.models:
                for seed in args.seeds:
                    val, epoch, secs = best_val_accuracy(
                        data, num_classes, model, sampler, size, seed, args
                    )
                    rows.append(
                        {
                            "sampler": sampler,
                            "size": list(size) if isinstance(size, tuple) else size,
                            "model": model,
                            "seed": seed,
                            "val_acc": val,
                            "best_epoch": epoch,
                            "s_per_epoch": secs,
                        }
                    )
                    print(
                        f"{sampler} {size} {model} seed {seed}: val {val:.2f} ({secs:.1f} s/epoch)"
                    )
                    sys.stdout.flush()
    record = {
        "provenance": prov,
        "dataset": args.dataset,
        "models": args.models,
        "seeds": args.seeds,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "tolerance": args.tolerance,
        "rows": rows,
        "chosen": choose(rows, args.tolerance),
    }
    print("chosen:", record["chosen"])
    if out is not None:
        write_results(STEM, record, to_markdown(record), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
