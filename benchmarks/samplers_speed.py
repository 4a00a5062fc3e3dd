"""Sampling speed of the sampler zoo, and how it compares with PyG's own samplers.

Reports, per method, sampled edges per second (edges of block 0, the whole sampled
computation graph) and preprocessing time, on PubMed and on a synthetic graph of 1M nodes
and 20M edges (10M random node pairs, both directions). In the same run it times PyG's own
implementations running on torch-sparse -- ``NeighborSampler`` (GraphSAGE sampling, as
``NeighborLoader`` uses it), ``GraphSAINT{Node,Edge,RandomWalk}Sampler`` (norm estimation by
pre-sampling, the same coverage) and ``ClusterData`` (METIS) -- and reports ratios:
throughput ours / PyG for GraphSAGE, preprocessing time PyG / ours for GraphSAINT and
Cluster-GCN (above 1: ours is faster).

PyG's samplers need torch-sparse (or pyg-lib), which this project never requires, so they run
in a second Python environment given with ``--pyg-python``: a virtual environment with the
same torch, torch-geometric and the prebuilt ``torch-scatter`` and ``torch-sparse`` wheels
matching that torch (compiling torch-sparse from PyPI takes about 20 minutes)::

    python -m venv ../venv-sparse && . ../venv-sparse/bin/activate
    pip install "torch==2.13.0" torch-geometric numpy scipy pymetis
    pip install torch_scatter-*.whl torch_sparse-*.whl   # wheels built for that torch

The script re-runs itself in that interpreter (``--pyg-worker``), which rebuilds the same
graphs from the same seed. Without ``--pyg-python`` only our numbers are reported.

Usage::

    SPIKEGRAPH_DATA=../shared/datasets python benchmarks/samplers_speed.py \\
        --pyg-python ../venv-sparse/bin/python
    python benchmarks/samplers_speed.py --quick          # CI smoke run (small graphs)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
METHODS = (
    "graphsage",
    "pinsage",
    "shadow",
    "cluster-gcn",
    "graphsaint-node",
    "graphsaint-edge",
    "graphsaint-rw",
    "ripple",
)
#: Methods PyG implements (on torch-sparse), compared in the same run.
PYG_METHODS = ("graphsage", "graphsaint-node", "graphsaint-edge", "graphsaint-rw", "cluster-gcn")
RESULTS = Path(__file__).resolve().parent / "results"


# ----------------------------------------------------------------------------- graphs
def synthetic_graph(num_nodes: int, num_pairs: int, seed: int = 0) -> torch.Tensor:
    """``num_pairs`` uniformly random node pairs, in both directions (``2 * num_pairs`` edges)."""
    gen = torch.Generator().manual_seed(seed)
    pairs = torch.randint(0, num_nodes, (2, num_pairs), generator=gen)
    return torch.cat([pairs, pairs.flip(0)], dim=1)


def load_graph(spec: dict) -> tuple[torch.Tensor, int]:
    if spec["kind"] == "synthetic":
        return synthetic_graph(spec["num_nodes"], spec["num_pairs"], spec["seed"]), spec[
            "num_nodes"
        ]
    sys.path.insert(0, str(ROOT))
    from spikegraph.datasets import load_dataset

    data, _ = load_dataset(spec["name"], root=spec.get("root"), split="full")
    return data.edge_index, data.num_nodes


def graph_specs(args: argparse.Namespace) -> list[dict]:
    specs = []
    if args.graphs is not None:
        names = set(args.graphs)
        return [
            sp
            for sp in graph_specs(argparse.Namespace(**{**vars(args), "graphs": None}))
            if sp["name"] in names
        ]
    if args.quick:
        specs.append(
            {
                "name": "synthetic-20k",
                "kind": "synthetic",
                "num_nodes": 20_000,
                "num_pairs": 100_000,
                "seed": 0,
            }
        )
    else:
        specs.append({"name": "PubMed", "kind": "dataset", "root": args.root})
        specs.append(
            {
                "name": "synthetic-1M",
                "kind": "synthetic",
                "num_nodes": 1_000_000,
                "num_pairs": 10_000_000,
                "seed": 0,
            }
        )
    return specs


def settings(spec: dict) -> dict[str, Any]:
    """Method settings per graph size (the same for ours and PyG's)."""
    big = spec["name"].startswith("synthetic-1M")
    small = spec["name"].startswith("synthetic-20k")
    return {
        "batch_size": 1024,
        "num_neighbors": [15, 10],
        "coverage": 20 if big else (5 if small else 50),
        "saint_node_budget": 10_000 if big else 6000,
        "saint_edge_budget": 5000 if big else 4000,
        "saint_rw_roots": 3000 if big else 2000,
        "walk_length": 2,
        "num_parts": 1000 if big else 100,
        "clusters_per_batch": 10,
        "subgraph_size": 10_000 if big else 4000,
    }


def seed_batches(num_nodes: int, batch_size: int, count: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return list(torch.randperm(num_nodes, generator=gen)[: batch_size * count].split(batch_size))


# ----------------------------------------------------------------------------- ours
def measure_ours(spec: dict, args: argparse.Namespace) -> dict[str, dict]:
    sys.path.insert(0, str(ROOT))
    from samplers import (
        ClusterGCNSampler,
        GraphSAGESampler,
        GraphSAINTEdgeSampler,
        GraphSAINTNodeSampler,
        GraphSAINTRandomWalkSampler,
        PinSAGESampler,
        RippleWalkSampler,
        ShaDowSampler,
    )

    edge_index, n = load_graph(spec)
    s = settings(spec)
    cov = {"sample_coverage": s["coverage"]}
    makers = {
        "graphsage": lambda: GraphSAGESampler(edge_index, s["num_neighbors"], num_nodes=n),
        "pinsage": lambda: PinSAGESampler(edge_index, [10, 10], num_nodes=n),
        "shadow": lambda: ShaDowSampler(edge_index, 2, [10, 5], num_nodes=n),
        "cluster-gcn": lambda: ClusterGCNSampler(
            edge_index, s["num_parts"], clusters_per_batch=s["clusters_per_batch"], num_nodes=n
        ),
        "graphsaint-node": lambda: GraphSAINTNodeSampler(
            edge_index, s["saint_node_budget"], num_nodes=n, **cov
        ),
        "graphsaint-edge": lambda: GraphSAINTEdgeSampler(
            edge_index, s["saint_edge_budget"], num_nodes=n, **cov
        ),
        "graphsaint-rw": lambda: GraphSAINTRandomWalkSampler(
            edge_index, s["saint_rw_roots"], s["walk_length"], num_nodes=n, **cov
        ),
        "ripple": lambda: RippleWalkSampler(edge_index, s["subgraph_size"], num_nodes=n),
    }
    batches = seed_batches(n, s["batch_size"], args.batches)
    out = {}
    for name, make in makers.items():
        if args.methods and name not in args.methods:
            continue
        best_pre, steps = float("inf"), {}
        for _ in range(args.repeats):  # best of repeats: the machine is shared
            sampler = make()
            if sampler.preprocess_time < best_pre:
                best_pre, steps = sampler.preprocess_time, dict(sampler.preprocess_times)
        best_rate, edges, nodes = 0.0, 0, 0
        for _ in range(args.repeats):
            edges, nodes, elapsed = 0, 0, 0.0
            for seeds in batches:
                start = time.perf_counter()
                batch = sampler.sample(seeds) if sampler.takes_seeds else sampler.sample()
                elapsed += time.perf_counter() - start
                edges += batch.num_edges
                nodes += batch.n_id.numel()
            best_rate = max(best_rate, edges / elapsed)
        count = len(batches)
        out[name] = {
            "preprocess_time": best_pre,
            "preprocess_steps": steps,
            "batches": count,
            "edges_per_batch": edges / count,
            "nodes_per_batch": nodes / count,
            "edges_per_second": best_rate,
        }
        if name == "cluster-gcn":
            out[name]["metis_call_time"] = metis_call_time(edge_index, n, s["num_parts"], args)
        print(
            f"  ours {spec['name']:>14} {name:>16}: {best_rate / 1e6:7.2f} M edges/s, "
            f"preprocess {best_pre:7.2f} s",
            flush=True,
        )
        del sampler
    return out


def metis_call_time(edge_index: torch.Tensor, n: int, num_parts: int, args) -> float:
    """Best-of-repeats time of the bare ``pymetis.part_graph`` call on the prepared graph:
    the floor any METIS-based Cluster-GCN pays (PyG's ``ClusterData`` included)."""
    import pymetis

    from samplers.graph import symmetrize, to_csr

    csr = to_csr(symmetrize(edge_index, n).flip(0), n)
    adjacency = pymetis.CSRAdjacency(csr.rowptr.numpy(), csr.col.numpy())
    best = float("inf")
    for _ in range(args.repeats):
        start = time.perf_counter()
        pymetis.part_graph(num_parts, adjacency, options=pymetis.Options(seed=0))
        best = min(best, time.perf_counter() - start)
    return best


# ----------------------------------------------------------------------------- PyG's
def pyg_worker(spec: dict, what: str, batches: int, repeats: int) -> dict:
    """Runs in the torch-sparse environment: one measurement of PyG's own implementation."""
    import warnings

    warnings.filterwarnings("ignore")
    import torch_geometric.typing as pyg_typing
    from torch_geometric.data import Data

    edge_index, n = load_graph(spec)
    s = settings(spec)
    data = Data(edge_index=edge_index, num_nodes=n)
    info = {"torch_sparse": pyg_typing.WITH_TORCH_SPARSE, "pyg_lib": pyg_typing.WITH_PYG_LIB}
    if what == "graphsage":
        from torch_geometric.sampler import NeighborSampler, NodeSamplerInput

        sampler = NeighborSampler(data, s["num_neighbors"])
        seeds_list = seed_batches(n, s["batch_size"], batches)
        best = 0.0
        for _ in range(repeats):
            edges, elapsed = 0, 0.0
            for seeds in seeds_list:
                start = time.perf_counter()
                out = sampler.sample_from_nodes(NodeSamplerInput(None, seeds))
                elapsed += time.perf_counter() - start
                edges += out.row.numel()
            best = max(best, edges / elapsed)
        return {**info, "edges_per_second": best, "edges_per_batch": edges / len(seeds_list)}
    if what.startswith("graphsaint"):
        from torch_geometric.loader import (
            GraphSAINTEdgeSampler,
            GraphSAINTNodeSampler,
            GraphSAINTRandomWalkSampler,
        )

        kind = what.split("-")[1]
        cls, kw = {
            "node": (GraphSAINTNodeSampler, {"batch_size": s["saint_node_budget"]}),
            "edge": (GraphSAINTEdgeSampler, {"batch_size": s["saint_edge_budget"]}),
            "rw": (
                GraphSAINTRandomWalkSampler,
                {"batch_size": s["saint_rw_roots"], "walk_length": s["walk_length"]},
            ),
        }[kind]
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            cls(data, num_steps=1, sample_coverage=s["coverage"], log=False, **kw)
            best = min(best, time.perf_counter() - start)
        return {**info, "preprocess_time": best}
    if what == "cluster-gcn":
        from torch_geometric.loader import ClusterData

        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            ClusterData(data, s["num_parts"], log=False)
            best = min(best, time.perf_counter() - start)
        return {**info, "preprocess_time": best}
    raise ValueError(f"unknown measurement {what!r}")


def measure_pyg(spec: dict, args: argparse.Namespace) -> dict[str, dict]:
    out = {}
    for what in ("graphsage", "graphsaint-node", "graphsaint-edge", "graphsaint-rw", "cluster-gcn"):
        if args.methods and what not in args.methods:
            continue
        cmd = [
            args.pyg_python,
            __file__,
            "--pyg-worker",
            json.dumps(spec),
            what,
            "--batches",
            str(args.batches),
            "--threads",
            str(args.threads),
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(args.threads)}
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, env=env, timeout=args.pyg_timeout, check=False
            )
        except subprocess.TimeoutExpired:
            out[what] = {"timeout": args.pyg_timeout}
            print(
                f"  PyG  {spec['name']:>14} {what:>16}: > {args.pyg_timeout} s (timed out)",
                flush=True,
            )
            continue
        if proc.returncode != 0:
            out[what] = {"error": proc.stderr.strip().splitlines()[-1:]}
            print(f"  PyG  {spec['name']:>14} {what:>16}: failed {out[what]['error']}", flush=True)
            continue
        out[what] = json.loads(proc.stdout.strip().splitlines()[-1])
        out[what]["wall_time"] = time.perf_counter() - start
        print(f"  PyG  {spec['name']:>14} {what:>16}: {out[what]}", flush=True)
    return out


def ratios(ours: dict, pyg: dict) -> dict[str, dict]:
    """GraphSAGE: throughput ours / PyG. Others: preprocessing PyG / ours (>1: ours faster)."""
    out = {}
    for name, p in pyg.items():
        if name not in ours:
            continue
        o = ours[name]
        if name == "graphsage":
            if "edges_per_second" in p:
                out[name] = {
                    "metric": "throughput ours / PyG",
                    "ratio": o["edges_per_second"] / p["edges_per_second"],
                }
            continue
        if "preprocess_time" in p:
            r = p["preprocess_time"] / o["preprocess_time"]
            out[name] = {"metric": "preprocessing time PyG / ours", "ratio": r}
        elif "timeout" in p:
            out[name] = {
                "metric": "preprocessing time PyG / ours",
                "ratio_at_least": p["timeout"] / o["preprocess_time"],
                "note": "PyG timed out",
            }
    return out


# ----------------------------------------------------------------------------- report
def to_markdown(result: dict) -> str:
    lines = [
        "# Sampler speed",
        "",
        f"- last command: `{result['command']}` ({result['date']}); each graph below says "
        "which run measured it",
        f"- machine: {result['machine']['platform']}, {result['machine']['cpu_count']} CPUs, "
        f"torch {result['machine']['torch']}, {result['threads']} torch thread(s)",
        "- throughput: edges of the sampled computation graph (block 0) per second of "
        "`sample()`; preprocessing: graph compression plus the method's own step",
        "",
    ]
    for g in result["graphs"]:
        lines += [
            f"## {g['graph']} ({g['num_nodes']:,} nodes, {g['num_edges']:,} edges)",
            "",
            "| method | M edges/s | edges/batch | preprocess (s) |",
            "|---|---|---|---|",
        ]
        for name, o in g["ours"].items():
            lines.append(
                f"| {name} | {o['edges_per_second'] / 1e6:.2f} | "
                f"{o['edges_per_batch']:.0f} | {o['preprocess_time']:.2f} |"
            )
        if "cluster-gcn" in g["ours"]:
            o = g["ours"]["cluster-gcn"]
            lines += [
                "",
                f"Cluster-GCN: the bare `pymetis.part_graph` call on the prepared graph "
                f"takes {o['metis_call_time']:.2f} s of our {o['preprocess_time']:.2f} s "
                "preprocessing (the rest: symmetrising and compressing the graph).",
            ]
        if g.get("pyg"):
            lines += ["", "| vs PyG on torch-sparse | ours | PyG | ratio |", "|---|---|---|---|"]
            for name, p in g["pyg"].items():
                o, r = g["ours"].get(name), g["ratios"].get(name, {})
                if o is None:
                    continue
                if "error" in p:
                    lines.append(
                        f"| {name} | {o['preprocess_time']:.2f} s | failed: "
                        f"{' '.join(p['error'])} | - |"
                    )
                elif name == "graphsage":
                    lines.append(
                        f"| GraphSAGE sampling, M edges/s | "
                        f"{o['edges_per_second'] / 1e6:.2f} | "
                        f"{p['edges_per_second'] / 1e6:.2f} | {r['ratio']:.2f}x |"
                    )
                else:
                    if "preprocess_time" in p:
                        pt, rt = f"{p['preprocess_time']:.2f}", f"{r['ratio']:.2f}x"
                    else:
                        pt = f"> {p['timeout']} (timed out)"
                        rt = f">= {r['ratio_at_least']:.2f}x"
                    lines.append(
                        f"| {name} preprocessing, s | {o['preprocess_time']:.2f} | {pt} | {rt} |"
                    )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument("--quick", action="store_true", help="small synthetic graph only (smoke run)")
    p.add_argument("--batches", type=int, default=20, help="batches timed per method")
    p.add_argument("--threads", type=int, default=1, help="torch threads (both sides)")
    p.add_argument("--repeats", type=int, default=3, help="best of this many measurements")
    p.add_argument("--methods", nargs="*", default=None, help="only these methods")
    p.add_argument(
        "--graphs", nargs="*", default=None, help="only these graphs (PubMed, synthetic-1M)"
    )
    p.add_argument("--pyg-python", default=None, help="python of a torch-sparse environment")
    p.add_argument("--pyg-timeout", type=int, default=300, help="seconds per PyG measurement")
    p.add_argument("--out", default=None, help=f"output folder (default {RESULTS.name}/)")
    p.add_argument("--pyg-worker", nargs=2, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.pyg_worker is not None:
        spec, what = json.loads(args.pyg_worker[0]), args.pyg_worker[1]
        print(json.dumps(pyg_worker(spec, what, args.batches, args.repeats)))
        return 0
    if args.quick:
        args.batches, args.repeats = min(args.batches, 5), 1
        args.pyg_timeout = min(args.pyg_timeout, 60)
    out_dir = Path(args.out) if args.out else (RESULTS / "quick" if args.quick else RESULTS)
    graphs = []
    for spec in graph_specs(args):
        edge_index, n = load_graph(spec)
        entry = {
            "graph": spec["name"],
            "num_nodes": n,
            "num_edges": int(edge_index.size(1)),
            "settings": settings(spec),
        }
        del edge_index
        # One method at a time, ours then PyG's right after: the load of a shared machine
        # drifts, so the two sides of a ratio are measured as close together as possible.
        entry["ours"], entry["pyg"] = {}, {}
        for method in args.methods or METHODS:
            one = argparse.Namespace(**{**vars(args), "methods": [method]})
            entry["ours"].update(measure_ours(spec, one))
            if args.pyg_python and method in PYG_METHODS:
                entry["pyg"].update(measure_pyg(spec, one))
        entry["ratios"] = ratios(entry["ours"], entry["pyg"])
        graphs.append(entry)
    sys.path.insert(0, str(ROOT))
    from spikegraph.train import machine_info

    shown = list(argv if argv is not None else sys.argv[1:])
    if "--pyg-python" in shown:  # the interpreter's path is this machine's business
        shown[shown.index("--pyg-python") + 1] = "<python of the torch-sparse environment>"
    command = " ".join(["python", "benchmarks/samplers_speed.py", *shown])
    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for g in graphs:
        g["command"], g["date"] = command, date
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "samplers_speed.json"
    if path.exists():  # keep the other graphs' entries, each with the run that made it
        old = json.loads(path.read_text())
        mine = {g["graph"] for g in graphs}
        kept = [
            {"command": old["command"], "date": old["date"], **g}
            for g in old.get("graphs", [])
            if g["graph"] not in mine
        ]
        graphs = kept + graphs
    result = {
        "command": command,
        "date": date,
        "machine": machine_info(),
        "threads": args.threads,
        "graphs": graphs,
    }
    path.write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "samplers_speed.md").write_text(to_markdown(result))
    print(to_markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
