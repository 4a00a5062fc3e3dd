"""Mini-batch training epoch of the spiking GCN for every neuron setting, against PyG's GCN over
the same GraphSAGE batches, in the same run.

One epoch of GraphSAGE batches (``[10, 10]`` neighbours, 512 seeds, PubMed's full split by
default; OGB datasets, e.g. ``spikegraph make-dataset``'s arxiv-like graph under ``--root``,
use their official split) is sampled once; every model then trains over exactly those
batches (forward, cross-entropy over the targets, backward, Adam step per batch), timed
interleaved round by round with the sampling of an epoch (timed on its own). The spiking
models are the settings of ``neuron_speed.py`` (tuned, the paper's, tdBN, each registered
neuron), each run the two ways a batch reaches a model (:mod:`spikegraph.train.minibatch`):

- ``subgraph``: the model's ``forward`` on the sampled subgraph, targets' rows taken after;
- ``blocks``: layer ``i`` on block ``i`` (``forward_blocks``), only the rows each layer needs.

PyG's ``GCN`` runs ``subgraph`` (what PyG's ``NeighborLoader`` examples do), ``trim`` (PyG's
own ``trim_to_layer``: the subgraph cut down hop by hop) and ``blocks``
(:func:`~spikegraph.train.blocks.pyg_forward_blocks`). Reported: median time per epoch, the
ratio of each spiking row to PyG's GCN in the same mode, and to the fastest PyG row (the
bar: the spiking GCN in ``blocks`` mode within 2.0x of it, for every setting).

    python benchmarks/minibatch_speed.py                  # into results/local/
    python benchmarks/minibatch_speed.py --update-results # results/minibatch_speed.*
    python benchmarks/minibatch_speed.py --quick          # smoke run
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    add_output_options,
    check_names,
    check_rows_kept,
    command_line,
    interleaved_times,
    median,
    output_dir,
    provenance,
    provenance_md,
    publish,
)
from neuron_speed import one_line, settings

from spikegraph.datasets import DATASETS, OGB_NODE, dataset_provenance, load_dataset
from spikegraph.models import build_model
from spikegraph.samplers import Batch
from spikegraph.train import TrainConfig
from spikegraph.train.minibatch import batch_logits, batch_loss, build_loader

STEM = "minibatch_speed"
SAMPLER = "graphsage"
MODES = ("subgraph", "blocks")
#: PyG's GCN also runs PyG's own trimmed forward (``trim_to_layer``).
PYG_MODES = ("subgraph", "trim", "blocks")
BAR = 2.0


def pyg_trim_logits(model: nn.Module, x: Tensor, batch: Batch) -> Tensor:
    """PyG's ``GCN`` on a nested batch with PyG's ``trim_to_layer``: layer ``i`` drops the
    nodes and edges of the hops it no longer needs (edges are listed hop by hop)."""
    blocks = batch.blocks
    cum = [b.num_edges for b in reversed(blocks)]  # edges into the nodes of hop < h + 1
    edges_per_hop = [cum[0]] + [cum[h] - cum[h - 1] for h in range(1, len(cum))]
    edge_index, edge_weight = batch.subgraph()
    out = model(
        x.index_select(0, batch.n_id),
        edge_index,
        edge_weight,
        num_sampled_nodes_per_hop=list(batch.num_sampled_nodes),
        num_sampled_edges_per_hop=edges_per_hop,
    )
    return out[: batch.num_targets]


def epoch_fn(model: nn.Module, data, batches: list[Batch], mode: str):
    """One training epoch of ``model`` over ``batches`` in ``mode``: forward, loss, backward
    and an Adam step per batch (the trainer's :class:`~spikegraph.train.MinibatchStep`)."""
    opt = torch.optim.Adam(
        model.parameters(), lr=TrainConfig.lr, weight_decay=TrainConfig.weight_decay
    )

    def epoch() -> None:
        model.train()
        for batch in batches:
            opt.zero_grad(set_to_none=True)
            if mode == "trim":
                logits = pyg_trim_logits(model, data.x, batch)
            else:
                logits = batch_logits(model, data.x, batch, mode)
            batch_loss(logits, data.y[batch.target], batch.loss_weight).backward()
            opt.step()

    return epoch


def split_of(name: str) -> str:
    """The split a dataset's epoch covers: Planetoid's ``full`` one (every node not in
    validation or test trains), OGB's official one (the only split it has)."""
    return "public" if name.lower() in OGB_NODE else "full"


def bench_dataset(
    name: str,
    root: str | None,
    hidden: int,
    T: int,
    rounds: int,
    batch_size: int,
    fanout: list[int],
    max_batches: int | None,
    modes: list[str],
) -> dict[str, Any]:
    split = split_of(name)
    data, num_classes = load_dataset(name, root=root, split=split)
    synthetic = dataset_provenance(name, root)
    setup = build_loader(
        SAMPLER, data, len(fanout), batch_size, options={"num_neighbors": fanout}, seed=0
    )
    batches = [b for b in setup.loader if b.num_targets][:max_batches]

    def sample_epoch() -> None:
        for i, _ in enumerate(setup.loader):
            if max_batches is not None and i + 1 >= max_batches:
                break

    common = dict(hidden_channels=hidden, dropout=0.5, T=T, encoder="auto", input_dropout=0.0)
    torch.manual_seed(0)
    models: dict[str, nn.Module] = {
        "gcn": build_model("gcn", data.num_features, num_classes, hidden_channels=hidden)
    }
    for key, opts in settings().items():
        torch.manual_seed(0)
        models[key] = build_model("sgcn", data.num_features, num_classes, **common, **opts)
    fns = {"sampling": sample_epoch}
    for mode in PYG_MODES:
        if mode in modes or mode == "trim":
            fns[f"gcn/{mode}"] = epoch_fn(models["gcn"], data, batches, mode)
    for key in settings():
        for mode in modes:
            fns[f"{key}/{mode}"] = epoch_fn(models[key], data, batches, mode)
    med = {k: median(v) for k, v in interleaved_times(fns, rounds, warmup=1).items()}
    pyg = {k.split("/")[1]: v for k, v in med.items() if k.startswith("gcn/")}
    best_mode = min(pyg, key=pyg.get)
    over_same, over_best = {}, {}
    for key in settings():
        for mode in modes:
            over_same[f"{key}/{mode}"] = med[f"{key}/{mode}"] / pyg[mode]
            over_best[f"{key}/{mode}"] = med[f"{key}/{mode}"] / pyg[best_mode]
    bar_mode = "blocks" if "blocks" in modes else modes[0]
    return {
        "dataset": name,
        "label": synthetic["label"] if synthetic else name,
        "split": split,
        "num_nodes": data.num_nodes,
        "num_edges": data.num_edges,
        "sampler": {"name": SAMPLER, "num_neighbors": fanout, "batch_size": batch_size},
        "num_batches": len(batches),
        "mean_batch": {
            "n_id": sum(b.n_id.numel() for b in batches) / len(batches),
            "block_sizes": [
                [sum(b.blocks[i].size[j] for b in batches) / len(batches) for j in (0, 1)]
                for i in range(len(fanout))
            ],
            "edges": [
                sum(b.blocks[i].num_edges for b in batches) / len(batches)
                for i in range(len(fanout))
            ],
        },
        "hidden": hidden,
        "T": T,
        "rounds": rounds,
        "modes": modes,
        "settings": {
            k: {"options": opts, "neuron": one_line(models[k].convs[0].neuron)}
            for k, opts in settings().items()
        },
        "seconds": med,
        "pyg_best_mode": best_mode,
        "over_gcn_same_mode": over_same,
        "over_gcn_best": over_best,
        "bar": {
            "mode": bar_mode,
            "max": BAR,
            "worst": max(over_best[f"{k}/{bar_mode}"] for k in settings()),
            "met": all(over_best[f"{k}/{bar_mode}"] <= BAR for k in settings()),
        },
    }


def to_markdown(record: dict) -> str:
    lines = [
        "# Mini-batch training speed for every neuron setting (ratio to PyG's GCN, same batches, "
        "same run)",
        "",
        provenance_md(record["provenance"]),
        f"- models: `SpikingGCN(F, {record['hidden']}, 2, C, T={record['T']})`, direct "
        "encoding, dropout 0.5 between the layers, no input dropout, against PyG's "
        f"`GCN(F, {record['hidden']}, 2, C)`; median of {record['rounds']} interleaved rounds "
        "(after 1 warm-up round); one epoch: forward, cross-entropy over the targets, "
        "backward, Adam step per batch, over one fixed list of GraphSAGE batches sampled "
        "once",
        "- modes: `subgraph` (the model's forward on the sampled subgraph), `blocks` (layer i "
        "on block i, only the rows each layer needs), `trim` (PyG's own `trim_to_layer`, PyG "
        "only)",
        "",
    ]
    for row in record["rows"]:
        s = row["sampler"]
        mb = row["mean_batch"]
        sizes = ", ".join(
            f"{src:,.0f} -> {dst:,.0f} ({e:,.0f} edges)"
            for (src, dst), e in zip(mb["block_sizes"], mb["edges"])
        )
        bar = row["bar"]
        lines += [
            f"## {row.get('label', row['dataset'])}, split={row['split']} "
            f"({row['num_nodes']:,} nodes, "
            f"{row['num_edges']:,} edges)",
            "",
            f"{s['name']} `num_neighbors={s['num_neighbors']}`, {s['batch_size']} seeds per "
            f"batch, {row['num_batches']} batches; mean blocks: {sizes}. Sampling one epoch "
            f"of batches: {1e3 * row['seconds']['sampling']:.0f} ms (not in the epochs "
            "below).",
            "",
            "| model | mode | epoch ms | / PyG GCN same mode | / fastest PyG GCN |",
            "|---|---|---|---|---|",
        ]
        best = row["pyg_best_mode"]
        for key, sec in row["seconds"].items():
            if not key.startswith("gcn/"):
                continue
            mode = key.split("/")[1]
            lines.append(
                f"| PyG gcn | {mode} | {1e3 * sec:.0f} | 1.00x | "
                f"{sec / row['seconds'][f'gcn/{best}']:.2f}x |"
            )
        for key in row["settings"]:
            for mode in row["modes"]:
                k = f"{key}/{mode}"
                lines.append(
                    f"| {key} | {mode} | {1e3 * row['seconds'][k]:.0f} | "
                    f"{row['over_gcn_same_mode'][k]:.2f}x | {row['over_gcn_best'][k]:.2f}x |"
                )
        lines += [
            "",
            "Settings: "
            + "; ".join(
                f"{k} `{v['options']}` (`{v['neuron']}`)" for k, v in row["settings"].items()
            )
            + ".",
            "",
            f"Bar (every setting in `{bar['mode']}` mode within {bar['max']:.1f}x of the "
            f"fastest PyG GCN, `{best}`): {'met' if bar['met'] else 'NOT met'} "
            f"(worst {bar['worst']:.2f}x).",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument("--datasets", nargs="+", default=["PubMed"])
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--T", type=int, default=8)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--num-neighbors", type=int, nargs="+", default=[10, 10])
    p.add_argument(
        "--max-batches", type=int, default=None, help="time only the first N batches of the epoch"
    )
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    p.add_argument("--quick", action="store_true", help="Cora, 2 batches, 1 round")
    add_output_options(p)
    args = p.parse_args(argv)
    args.datasets = check_names(p, "--datasets", args.datasets, DATASETS)
    for option in ("datasets", "modes"):
        values = getattr(args, option)
        if len(set(values)) != len(values):
            p.error(f"--{option.replace('_', '-')}: duplicates in {values}")
    if args.max_batches is not None and args.max_batches < 1:
        p.error(f"--max-batches must be >= 1, got {args.max_batches}")
    if args.quick:
        args.datasets, args.rounds, args.max_batches = ["Cora"], 1, 2
    out = output_dir(p, args)
    # one session's ratios are not merged with another's: refuse to drop rows of the file
    check_rows_kept(p, out, STEM, args.datasets, lambda r: [row["dataset"] for row in r["rows"]])
    record = {
        "provenance": provenance(
            command_line(f"{STEM}.py", sys.argv[1:] if argv is None else argv)
        ),
        "hidden": args.hidden,
        "T": args.T,
        "rounds": args.rounds,
        "rows": [],
    }
    for name in args.datasets:
        start = time.perf_counter()
        row = bench_dataset(
            name,
            args.root,
            args.hidden,
            args.T,
            args.rounds,
            args.batch_size,
            args.num_neighbors,
            args.max_batches,
            args.modes,
        )
        record["rows"].append(row)
        ratios = ", ".join(f"{k} {v:.2f}x" for k, v in row["over_gcn_best"].items())
        print(
            f"{name} epoch / fastest PyG GCN ({row['pyg_best_mode']}): {ratios} "
            f"[{time.perf_counter() - start:.0f} s]"
        )
    publish(STEM, record, to_markdown(record), out)
    return record


if __name__ == "__main__":
    main()
