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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    add_output_options,
    check_names,
    check_rows_kept,
    command_line,
    output_dir,
    provenance,
    provenance_md,
    write_results,
)
from speed import one_line, settings, time_settings  # noqa: F401 (re-exported)

from spikegraph.datasets import DATASETS, load_dataset

STEM = "neuron_speed"


def bench_dataset(name: str, root: str | None, hidden: int, T: int, rounds: int) -> dict:
    data, num_classes = load_dataset(name, root=root)
    row: dict[str, Any] = {
        "dataset": name,
        "num_nodes": data.num_nodes,
        "num_edges": data.num_edges,
        "hidden": hidden,
        "T": T,
        "rounds": rounds,
    }
    row.update(time_settings(data, num_classes, hidden, T, rounds))
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
