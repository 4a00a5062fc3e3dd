"""Time per epoch of the spiking GCN for every neuron setting, against PyG's GCN in the same run.

Each setting is ``SpikingGCN(F, hidden, 2, C, T=T)`` with direct encoding, dropout 0.5 between
the layers and no input dropout (like PyG's ``GCN``), differing only in its neuron and
normalisation:

- ``tuned``: the class defaults (integrate-and-fire, soft reset, no normalisation);
- ``paper``: the paper's neuron (``PAPER_NEURON``: LIF with tau 2 and hard reset, STFN);
- ``tdbn``: the class defaults with tdBN;
- one row per registered neuron (``neuron=NAME`` with the neuron's own defaults), among them
  ``lif`` (fixed time constant) and ``plif`` (the same LIF with a learnable time constant,
  Fang et al. 2021) -- their ratio is the cost of learning tau on the fused fast path.

All models and PyG's GCN are timed interleaved, round by round, in one process. Reported:
median wall time of one training epoch (forward, loss, backward, Adam step) and of one
full-graph inference, as ratios to PyG's GCN, and ``plif / lif``.

    python benchmarks/neuron_speed.py                  # Cora and PubMed, into results/local/
    python benchmarks/neuron_speed.py --update-results # results/neuron_speed.*
    python benchmarks/neuron_speed.py --quick          # smoke run
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch

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
    write_results,
)
from speed import make_step

from spikegraph.datasets import DATASETS, load_dataset
from spikegraph.models import PAPER_NEURON, build_model
from spikegraph.nn.neurons import NEURONS

STEM = "neuron_speed"


def settings() -> dict[str, dict[str, Any]]:
    """Setting name -> options of ``sgcn`` on top of the common ones."""
    out: dict[str, dict[str, Any]] = {
        "tuned": {},
        "paper": dict(PAPER_NEURON),
        "tdbn": {"norm": "tdbn"},
    }
    for name in NEURONS:
        out[f"neuron={name}"] = {"neuron": name}
    return out


def one_line(module: torch.nn.Module) -> str:
    """``Name(options)`` of a neuron on one line."""
    return f"{type(module).__name__}({module.extra_repr()})"


def bench_dataset(name: str, root: str | None, hidden: int, T: int, rounds: int) -> dict:
    data, num_classes = load_dataset(name, root=root)
    common = dict(hidden_channels=hidden, dropout=0.5, T=T, encoder="auto", input_dropout=0.0)
    torch.manual_seed(0)
    models = {"gcn": build_model("gcn", data.num_features, num_classes, hidden_channels=hidden)}
    for key, opts in settings().items():
        torch.manual_seed(0)
        models[key] = build_model("sgcn", data.num_features, num_classes, **common, **opts)

    def forward_of(model):
        def forward(train: bool):
            model.train(train)
            return model(data.x, data.edge_index)

        return forward

    row: dict[str, Any] = {
        "dataset": name,
        "num_nodes": data.num_nodes,
        "num_edges": data.num_edges,
        "hidden": hidden,
        "T": T,
        "rounds": rounds,
        "settings": {
            k: {"options": opts, "neuron": one_line(models[k].convs[0].neuron)}
            for k, opts in settings().items()
        },
    }
    for phase, train in (("train", True), ("inference", False)):
        fns = {
            k: make_step(forward_of(m), list(m.parameters()), data, train)
            for k, m in models.items()
        }
        med = {k: median(v) for k, v in interleaved_times(fns, rounds).items()}
        row[phase] = {
            "seconds": med,
            "over_gcn": {k: med[k] / med["gcn"] for k in med if k != "gcn"},
        }
        if "neuron=plif" in med and "neuron=lif" in med:
            row[phase]["plif_over_lif"] = med["neuron=plif"] / med["neuron=lif"]
    return row


def to_markdown(record: dict) -> str:
    lines = [
        "# Spiking GCN speed for every neuron setting (ratio to PyG's GCN, same run)",
        "",
        provenance_md(record["provenance"]),
        f"- models: `SpikingGCN(F, {record['hidden']}, 2, C, T={record['T']})`, direct "
        "encoding, dropout 0.5 between the layers, no input dropout, against PyG's "
        f"`GCN(F, {record['hidden']}, 2, C)`; median of {record['rounds']} interleaved rounds "
        "(after 2 warm-up rounds); training epoch: forward, cross-entropy, backward, Adam step",
        "",
    ]
    for row in record["rows"]:
        lines += [
            f"## {row['dataset']} ({row['num_nodes']:,} nodes, {row['num_edges']:,} edges)",
            "",
            "| setting | options | neuron | train ms | train / gcn | inference ms | "
            "inference / gcn |",
            "|---|---|---|---|---|---|---|",
        ]
        tr, inf = row["train"], row["inference"]
        lines.append(
            f"| PyG gcn | - | - | {1e3 * tr['seconds']['gcn']:.1f} | 1.00x | "
            f"{1e3 * inf['seconds']['gcn']:.1f} | 1.00x |"
        )
        for key, setting in row["settings"].items():
            lines.append(
                f"| {key} | `{setting['options']}` | `{setting['neuron']}` | "
                f"{1e3 * tr['seconds'][key]:.1f} | "
                f"{tr['over_gcn'][key]:.2f}x | {1e3 * inf['seconds'][key]:.1f} | "
                f"{inf['over_gcn'][key]:.2f}x |"
            )
        if "plif_over_lif" in tr:
            lines += [
                "",
                f"Learnable tau (PLIF) over fixed tau (LIF), same reset and initial tau: "
                f"training {tr['plif_over_lif']:.2f}x, inference {inf['plif_over_lif']:.2f}x.",
            ]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument("--datasets", nargs="+", default=["Cora", "PubMed"])
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--T", type=int, default=8)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--quick", action="store_true", help="Cora, 1 round")
    add_output_options(p)
    args = p.parse_args(argv)
    args.datasets = check_names(p, "--datasets", args.datasets, DATASETS)
    if args.quick:
        args.datasets, args.rounds = ["Cora"], 1
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
        row = bench_dataset(name, args.root, args.hidden, args.T, args.rounds)
        record["rows"].append(row)
        ratios = ", ".join(f"{k} {v:.2f}x" for k, v in row["train"]["over_gcn"].items())
        print(f"{name} training epoch / PyG GCN: {ratios}")
        if "plif_over_lif" in row["train"]:
            print(f"{name} plif / lif training epoch: {row['train']['plif_over_lif']:.2f}x")
    if out is not None:
        write_results(STEM, record, to_markdown(record), out)
    return record


if __name__ == "__main__":
    main()
