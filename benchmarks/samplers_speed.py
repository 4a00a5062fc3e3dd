"""Sampling speed of the sampler zoo, and how it compares with PyG's own samplers.

Reports, per method, sampled edges per second (edges of block 0, the whole sampled
computation graph; all blocks' edges for the layer-wise methods, whose blocks do not nest),
milliseconds per batch and preprocessing time, on PubMed and on a synthetic graph of 1M nodes
and 20M edges (10M random node pairs, both directions). In the same run it times PyG's own
implementations running on torch-sparse -- ``NeighborSampler`` (GraphSAGE sampling, as
``NeighborLoader`` uses it), ``GraphSAINT{Node,Edge,RandomWalk}Sampler`` (norm estimation by
pre-sampling, the same coverage) and ``ClusterData`` (METIS) -- and reports ratios:
throughput ours / PyG for GraphSAGE, preprocessing time PyG / ours for GraphSAINT and
Cluster-GCN (above 1: ours is faster). For Cluster-GCN it also times the bare
``pymetis.part_graph`` call, the floor of any METIS-based implementation.

Every measurement (one method on one graph, ours or PyG's) runs in a fresh worker process
with a time limit (``--timeout``, ``--pyg-timeout``), ours then PyG's right after, so the two
sides of a ratio see the same machine load; a measurement that runs out of time is recorded
as such. Each is the best of ``--repeats`` runs, except that one whose first run took longer
than ``--repeat-limit`` seconds is not repeated (METIS on the 1M graph); the record says how
many runs each number is the best of. One command produces the whole results file.

PyG's samplers need torch-sparse (or pyg-lib), which this project never requires, so they run
in a second Python environment given with ``--pyg-python``: a virtual environment with the
same torch, torch-geometric and the prebuilt ``torch-scatter`` and ``torch-sparse`` wheels
matching that torch (compiling torch-sparse from PyPI takes about 20 minutes)::

    python -m venv ../venv-sparse && . ../venv-sparse/bin/activate
    pip install "torch==2.13.0" torch-geometric numpy scipy pymetis
    pip install torch_scatter-*.whl torch_sparse-*.whl   # wheels built for that torch

The workers rebuild the same graphs from the same seed. Without ``--pyg-python`` only our
numbers are reported.

Usage::

    SPIKEGRAPH_DATA=../shared/datasets python benchmarks/samplers_speed.py \\
        --pyg-python ../venv-sparse/bin/python
    python benchmarks/samplers_speed.py --quick          # smoke run, writes nothing

Results go to the scratch folder ``benchmarks/results/local/`` (ignored by git), to ``--out
DIR``, or, with ``--update-results``, to the committed ``benchmarks/results/``. A worker of
ours that fails ends the benchmark with its error; a PyG worker that fails (its environment
lacks a feature) is recorded as such.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
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
    "fastgcn",
    "ladies",
)
#: Methods PyG implements (on torch-sparse), compared in the same run.
PYG_METHODS = ("graphsage", "graphsaint-node", "graphsaint-edge", "graphsaint-rw", "cluster-gcn")
#: The issue's bars: GraphSAGE throughput ratio, preprocessing ratios (PyG time / ours).
BARS = {
    "graphsage": 0.5,
    "graphsaint-node": 1.0,
    "graphsaint-edge": 1.0,
    "graphsaint-rw": 1.0,
    "cluster-gcn": 1.0,
}
#: The issue's speed bars for the layer-wise methods: at most this many ms per batch on the
#: 1M-node graph (batch 512, 512 nodes per layer, 2 layers).
MS_BARS = {"ladies": 10.0, "fastgcn": 20.0}
GRAPHS = ("PubMed", "synthetic-1M", "synthetic-20k")  # the last one: --quick


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
    if args.quick:
        specs = [
            {
                "name": "synthetic-20k",
                "kind": "synthetic",
                "num_nodes": 20_000,
                "num_pairs": 100_000,
                "seed": 0,
            }
        ]
    else:
        specs = [
            {"name": "PubMed", "kind": "dataset", "root": args.root},
            {
                "name": "synthetic-1M",
                "kind": "synthetic",
                "num_nodes": 1_000_000,
                "num_pairs": 10_000_000,
                "seed": 0,
            },
        ]
    if args.graphs is not None:
        specs = [sp for sp in specs if sp["name"] in set(args.graphs)]
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
        "layerwise_batch_size": 512,
        "layer_sizes": [512, 512],
    }


def seed_batches(num_nodes: int, batch_size: int, count: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return list(torch.randperm(num_nodes, generator=gen)[: batch_size * count].split(batch_size))


def runs(fn: Callable[[], Any], repeats: int, limit: float) -> list[Any]:
    """Call ``fn`` up to ``repeats`` times, stopping after a call that took over ``limit``
    seconds; returns the results (the caller keeps the best)."""
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        out.append(fn())
        if time.perf_counter() - start > limit:
            break
    return out


# ----------------------------------------------------------------------------- ours
def warm_up_kernels() -> None:
    """Load (or, after an install, compile and cache) the numba kernels once per process,
    so that no preprocessing time below includes JIT compilation."""
    import numpy as np

    from spikegraph.samplers._kernels import alias_build, saint_count, saint_count_words
    from spikegraph.samplers._layerwise import _gather_rows

    alias_build(np.array([0.5, 0.5]))
    one = np.zeros(2, dtype=np.int64)
    args = (np.array([0, 1, 1]), one[:1], np.array([0, 1]), one[:1], np.ones(2, dtype=np.bool_))
    saint_count(*args, np.zeros(2, dtype=np.bool_), np.zeros(2, dtype=np.int64), one[:1].copy())
    saint_count_words(*args, np.zeros(2, dtype=np.int64), np.zeros(2, dtype=np.int64), one.copy())
    mark = np.full(2, -1, dtype=np.int32)
    _gather_rows(np.array([0, 1, 1]), one[:1], np.ones(1, dtype=np.float32), one[:1], mark)


def ours_worker(spec: dict, method: str, args: argparse.Namespace) -> dict:
    """Runs in a worker process: one method of ours on one graph."""
    sys.path.insert(0, str(ROOT))
    from spikegraph.samplers import (
        ClusterGCNSampler,
        FastGCNSampler,
        GraphSAGESampler,
        GraphSAINTEdgeSampler,
        GraphSAINTNodeSampler,
        GraphSAINTRandomWalkSampler,
        LADIESSampler,
        PinSAGESampler,
        RippleWalkSampler,
        ShaDowSampler,
    )

    warm_up_kernels()
    edge_index, n = load_graph(spec)
    s = settings(spec)
    # The node and edge samplers' default is closed-form norms, which pre-sample nothing:
    # here they estimate them by pre-sampling at PyG's coverage, so that the preprocessing
    # ratio compares the same work.
    cov = {"sample_coverage": s["coverage"]}
    est = {**cov, "norms": "estimate"}
    make = {
        "graphsage": lambda: GraphSAGESampler(edge_index, s["num_neighbors"], num_nodes=n),
        "pinsage": lambda: PinSAGESampler(edge_index, [10, 10], num_nodes=n),
        "shadow": lambda: ShaDowSampler(edge_index, 2, [10, 5], num_nodes=n),
        "cluster-gcn": lambda: ClusterGCNSampler(
            edge_index, s["num_parts"], clusters_per_batch=s["clusters_per_batch"], num_nodes=n
        ),
        "graphsaint-node": lambda: GraphSAINTNodeSampler(
            edge_index, s["saint_node_budget"], num_nodes=n, **est
        ),
        "graphsaint-edge": lambda: GraphSAINTEdgeSampler(
            edge_index, s["saint_edge_budget"], num_nodes=n, **est
        ),
        "graphsaint-rw": lambda: GraphSAINTRandomWalkSampler(
            edge_index, s["saint_rw_roots"], s["walk_length"], num_nodes=n, **cov
        ),
        "ripple": lambda: RippleWalkSampler(edge_index, s["subgraph_size"], num_nodes=n),
        "fastgcn": lambda: FastGCNSampler(edge_index, s["layer_sizes"], num_nodes=n),
        "ladies": lambda: LADIESSampler(edge_index, s["layer_sizes"], num_nodes=n),
    }[method]
    built = runs(make, args.repeats, args.repeat_limit)
    best = min(built, key=lambda sp: sp.preprocess_time)
    pre_runs, sampler = len(built), built[-1]
    del built
    layerwise = method in MS_BARS
    batch_size = s["layerwise_batch_size"] if layerwise else s["batch_size"]
    batches = seed_batches(n, batch_size, args.batches)

    def throughput() -> tuple[float, int, int, float]:
        edges, nodes, elapsed = 0, 0, 0.0
        for seeds in batches:
            start = time.perf_counter()
            batch = sampler.sample(seeds) if sampler.takes_seeds else sampler.sample()
            elapsed += time.perf_counter() - start
            edges += batch.num_edges
            nodes += batch.n_id.numel()
        return edges / elapsed, edges, nodes, elapsed

    rates = runs(throughput, args.repeats, args.repeat_limit)
    rate, edges, nodes, _ = max(rates)
    out = {
        "preprocess_time": best.preprocess_time,
        "preprocess_steps": dict(best.preprocess_times),
        "preprocess_runs": pre_runs,
        "batches": len(batches),
        "edges_per_batch": edges / len(batches),
        "nodes_per_batch": nodes / len(batches),
        "edges_per_second": rate,
        # The fastest run (the runs draw different batches, so the run of the best edge
        # rate need not be the fastest).
        "ms_per_batch": min(1e3 * r[3] / len(batches) for r in rates),
        "ms_per_batch_runs": [1e3 * r[3] / len(batches) for r in rates],
        "batch_size": batch_size,
        "throughput_runs": len(rates),
    }
    if hasattr(best, "norm_mode"):  # GraphSAINT: which norms the preprocessing computed
        out["norms"] = best.norm_mode
    if method == "cluster-gcn":
        del sampler, best
        floor = metis_call_times(edge_index, n, s["num_parts"], args)
        out["metis_call_time"] = min(t for t, _, _ in floor)
        out["metis_call_runs"] = len(floor)
        out["metis_edge_cut"], out["undirected_edges"] = floor[0][1], floor[0][2]
    return out


def metis_call_times(
    edge_index: torch.Tensor, n: int, num_parts: int, args
) -> list[tuple[float, int, int]]:
    """Times of the bare ``pymetis.part_graph`` call on the prepared graph, the floor any
    METIS-based Cluster-GCN pays (PyG's ``ClusterData`` included), each with the edge cut
    METIS reports and the number of undirected edges."""
    import pymetis

    from spikegraph.samplers.graph import symmetrize, to_csr

    csr = to_csr(symmetrize(edge_index, n).flip(0), n)
    adjacency = pymetis.CSRAdjacency(csr.rowptr.numpy(), csr.col.numpy())

    def call() -> tuple[float, int, int]:
        start = time.perf_counter()
        part = pymetis.part_graph(num_parts, adjacency, options=pymetis.Options(seed=0))
        return time.perf_counter() - start, int(part.edge_cuts), csr.num_edges // 2

    return runs(call, args.repeats, args.repeat_limit)


# ----------------------------------------------------------------------------- PyG's
def pyg_worker(spec: dict, what: str, args: argparse.Namespace) -> dict:
    """Runs in the torch-sparse environment: one measurement of PyG's own implementation."""
    import warnings

    warnings.filterwarnings("ignore")
    import torch_geometric.typing as pyg_typing
    from torch_geometric.data import Data

    edge_index, n = load_graph(spec)
    s = settings(spec)
    data = Data(edge_index=edge_index, num_nodes=n)
    info = {"torch_sparse": pyg_typing.WITH_TORCH_SPARSE, "pyg_lib": pyg_typing.WITH_PYG_LIB}
    timed = lambda fn: lambda: _timed(fn)  # noqa: E731
    if what == "graphsage":
        from torch_geometric.sampler import NeighborSampler, NodeSamplerInput

        sampler = NeighborSampler(data, s["num_neighbors"])
        seeds_list = seed_batches(n, s["batch_size"], args.batches)

        def throughput() -> tuple[float, int]:
            edges, elapsed = 0, 0.0
            for seeds in seeds_list:
                start = time.perf_counter()
                out = sampler.sample_from_nodes(NodeSamplerInput(None, seeds))
                elapsed += time.perf_counter() - start
                edges += out.row.numel()
            return edges / elapsed, edges

        rates = runs(throughput, args.repeats, args.repeat_limit)
        rate, edges = max(rates)
        return {
            **info,
            "edges_per_second": rate,
            "edges_per_batch": edges / len(seeds_list),
            "runs": len(rates),
        }
    if what.startswith("graphsaint"):
        from torch_geometric.loader import (
            GraphSAINTEdgeSampler,
            GraphSAINTNodeSampler,
            GraphSAINTRandomWalkSampler,
        )

        cls, kw = {
            "graphsaint-node": (GraphSAINTNodeSampler, {"batch_size": s["saint_node_budget"]}),
            "graphsaint-edge": (GraphSAINTEdgeSampler, {"batch_size": s["saint_edge_budget"]}),
            "graphsaint-rw": (
                GraphSAINTRandomWalkSampler,
                {"batch_size": s["saint_rw_roots"], "walk_length": s["walk_length"]},
            ),
        }[what]
        make = timed(lambda: cls(data, num_steps=1, sample_coverage=s["coverage"], log=False, **kw))
        times = runs(make, args.repeats, args.repeat_limit)
        return {**info, "preprocess_time": min(times), "runs": len(times)}
    if what == "cluster-gcn":
        from torch_geometric.loader import ClusterData

        try:
            ClusterData(Data(edge_index=torch.tensor([[0, 1], [1, 0]]), num_nodes=2), 2, log=False)
        except ImportError as err:  # say why: PyG swallows the underlying error
            raise RuntimeError(
                f"ClusterData raised {type(err).__name__}: {err}; {metis_probe()}"
            ) from None
        make = timed(lambda: ClusterData(data, s["num_parts"], log=False))
        times = runs(make, args.repeats, args.repeat_limit)
        return {**info, "preprocess_time": min(times), "runs": len(times)}
    raise ValueError(f"unknown measurement {what!r}")


def metis_probe() -> str:
    """Why PyG has no METIS here: its two routes, torch-sparse's and pyg-lib's."""
    import torch_geometric.typing as pyg_typing

    try:
        import torch_sparse  # noqa: F401

        rowptr, col = torch.tensor([0, 1, 2]), torch.tensor([1, 0])
        torch.ops.torch_sparse.partition(rowptr, col, None, 2, False)
        sparse = "torch_sparse.partition works"
    except Exception as err:  # the message is the point
        sparse = f"torch.ops.torch_sparse.partition raises {type(err).__name__}: {err}"
    return (
        f"{sparse}; pyg-lib installed: {pyg_typing.WITH_PYG_LIB}, "
        f"torch_geometric.typing.WITH_METIS={pyg_typing.WITH_METIS}"
    )


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# ----------------------------------------------------------------------------- driver
def run_worker(side: str, spec: dict, method: str, args: argparse.Namespace) -> dict:
    """One measurement in a fresh process with a time limit; the worker's JSON, or a
    record of the timeout / error."""
    python = sys.executable if side == "ours" else args.pyg_python
    limit = args.timeout if side == "ours" else args.pyg_timeout
    cmd = [python, __file__, "--worker", side, json.dumps(spec), method]
    cmd += ["--batches", str(args.batches), "--threads", str(args.threads)]
    cmd += ["--repeats", str(args.repeats), "--repeat-limit", str(args.repeat_limit)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(args.threads)}
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=limit, check=False
        )
    except subprocess.TimeoutExpired:
        out = {"timeout": limit}
    else:
        label = f"{side} worker ({spec['name']}, {method})"
        if proc.returncode != 0:
            lines = proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"]
            if side == "ours":  # our own code failed: that is an error, not a measurement
                from _common import BenchmarkChildError

                raise BenchmarkChildError(
                    f"{label} failed (exit code {proc.returncode}):\n" + "\n".join(lines[-30:])
                )
            out = {"error": lines[-1]}
        else:
            try:
                out = json.loads(proc.stdout.strip().splitlines()[-1])
            except (IndexError, json.JSONDecodeError):
                from _common import BenchmarkChildError

                raise BenchmarkChildError(
                    f"{label} printed no result:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
                ) from None
    out["wall_time"] = time.perf_counter() - start
    print(f"  {side:>4} {spec['name']:>14} {method:>16}: {short(out)}", flush=True)
    return out


def short(out: dict) -> str:
    if "timeout" in out:
        return f"> {out['timeout']} s (timed out)"
    if "error" in out:
        return f"failed: {out['error']}"
    parts = []
    if "edges_per_second" in out:
        parts.append(f"{out['edges_per_second'] / 1e6:.2f} M edges/s")
    if "ms_per_batch" in out:
        parts.append(f"{out['ms_per_batch']:.2f} ms/batch")
    if "preprocess_time" in out:
        parts.append(f"preprocess {out['preprocess_time']:.2f} s")
    return ", ".join(parts)


def ratios(ours: dict, pyg: dict) -> dict[str, dict]:
    """GraphSAGE: throughput ours / PyG. Others: preprocessing PyG / ours (>1: ours faster)."""
    out = {}
    for name, p in pyg.items():
        o = ours.get(name, {})
        if name == "graphsage":
            if "edges_per_second" in p and "edges_per_second" in o:
                r = o["edges_per_second"] / p["edges_per_second"]
                out[name] = {"metric": "throughput ours / PyG", "ratio": r}
            continue
        if "preprocess_time" not in o:
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
def _pre(o: dict) -> str:
    if "timeout" in o:
        return f"> {o['timeout']} (timed out)"
    if "error" in o:
        return f"failed: {o['error']}"
    return f"{o['preprocess_time']:.2f}"


def to_markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        "# Sampler speed",
        "",
        f"- command: `{result['command']}`",
        f"- date: {result['date']}",
        f"- machine: {m['platform']}, {m['cpu_count']} CPUs, torch {m['torch']}, "
        f"{result['threads']} torch thread(s) on both sides; load average at the start "
        f"{result['load_at_start']}",
        "- throughput: edges of the sampled computation graph (block 0; all blocks for "
        "the layer-wise fastgcn and ladies, whose blocks do not nest) per second of "
        "`sample()`; ms/batch: seconds of `sample()` per batch (batch 512 for the "
        "layer-wise methods, else 1024); preprocessing: graph compression plus the "
        "method's own step (numba kernels loaded before timing)",
        f"- each number is the best of up to {result['repeats']} runs in a fresh worker "
        f"process (a run over {result['repeat_limit']} s is not repeated); ours, then PyG's "
        "right after; limits: ours "
        f"{result['timeout']} s, PyG's {result['pyg_timeout']} s per measurement",
        "",
    ]
    for g in result["graphs"]:
        lines += [
            f"## {g['graph']} ({g['num_nodes']:,} nodes, {g['num_edges']:,} edges)",
            "",
            "| method | M edges/s | ms/batch | edges/batch | preprocess (s) | runs |",
            "|---|---|---|---|---|---|",
        ]
        for name, o in g["ours"].items():
            if "edges_per_second" not in o:
                lines.append(f"| {name} | - | - | - | {_pre(o)} | - |")
                continue
            ms = f"{o['ms_per_batch']:.2f}" if "ms_per_batch" in o else "-"
            lines.append(
                f"| {name} | {o['edges_per_second'] / 1e6:.2f} | {ms} | "
                f"{o['edges_per_batch']:.0f} | {o['preprocess_time']:.2f} | "
                f"{o['preprocess_runs']} |"
            )
        bars = [
            (name, g["ours"][name]) for name in MS_BARS if "ms_per_batch" in g["ours"].get(name, {})
        ]
        if bars and g["graph"] == "synthetic-1M":
            lines += ["", "| layer-wise, batch 512, 512 nodes/layer, 2 layers | ms/batch | bar |"]
            lines.append("|---|---|---|")
            for name, o in bars:
                verdict = "met" if o["ms_per_batch"] <= MS_BARS[name] else "**NOT met**"
                lines.append(
                    f"| {name} | {o['ms_per_batch']:.2f} | <= {MS_BARS[name]:.0f}: {verdict} |"
                )
        o = g["ours"].get("cluster-gcn", {})
        if "metis_call_time" in o:
            lines += [
                "",
                f"Cluster-GCN: the bare `pymetis.part_graph` call ({o['metis_call_runs']} "
                f"run(s)) takes {o['metis_call_time']:.2f} s; our whole preprocessing "
                f"(symmetrising and compressing the graph, then that call) takes "
                f"{o['preprocess_time']:.2f} s, "
                f"{o['preprocess_time'] / o['metis_call_time']:.2f}x the bare call.",
            ]
            if "metis_edge_cut" in o:
                lines[-1] += (
                    f" METIS cuts {o['metis_edge_cut']:,} of the {o['undirected_edges']:,} "
                    "undirected edges."
                )
        if g.get("pyg"):
            lines += [
                "",
                "| vs PyG on torch-sparse | ours | PyG | ratio | bar |",
                "|---|---|---|---|---|",
            ]
            for name, p in g["pyg"].items():
                o, r = g["ours"].get(name, {}), g["ratios"].get(name, {})
                bar = BARS[name]
                if name == "graphsage":
                    label = "GraphSAGE sampling, M edges/s"
                    ours_s = (
                        f"{o['edges_per_second'] / 1e6:.2f}" if "edges_per_second" in o else _pre(o)
                    )
                    pyg_s = (
                        f"{p['edges_per_second'] / 1e6:.2f}" if "edges_per_second" in p else _pre(p)
                    )
                else:
                    label, ours_s, pyg_s = f"{name} preprocessing, s", _pre(o), _pre(p)
                if "ratio" in r:
                    ratio = f"{r['ratio']:.2f}x"
                    verdict = "met" if r["ratio"] >= bar else "**NOT met**"
                elif "ratio_at_least" in r:
                    ratio = f">= {r['ratio_at_least']:.2f}x"
                    verdict = "met" if r["ratio_at_least"] >= bar else "unknown"
                else:
                    ratio, verdict = "-", "no PyG number"
                lines.append(f"| {label} | {ours_s} | {pyg_s} | {ratio} | >= {bar}x: {verdict} |")
            p = g["pyg"].get("cluster-gcn", {})
            if "error" in p:
                why = (
                    "the torch-sparse wheel was built without METIS and pyg-lib, PyG's other "
                    "route to METIS, is not installed (it is not on PyPI)"
                    if "Not compiled with METIS" in p["error"]
                    else "see the error"
                )
                lines += [
                    "",
                    "Cluster-GCN has no PyG number: PyG's `ClusterData` cannot run in the "
                    f"torch-sparse environment because {why}. The error (the worker adds the "
                    f"underlying cause, which PyG swallows): `{p['error']}`. Our "
                    "preprocessing is compared with the bare `pymetis.part_graph` call above "
                    "instead: the floor any METIS-based implementation pays.",
                ]
        lines.append("")
    return "\n".join(lines)


def load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import add_output_options  # stdlib only: the PyG worker imports it too

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument("--quick", action="store_true", help="small synthetic graph only (smoke run)")
    p.add_argument("--batches", type=int, default=20, help="batches timed per method")
    p.add_argument("--threads", type=int, default=1, help="torch threads (both sides)")
    p.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    p.add_argument(
        "--repeat-limit", type=float, default=60.0, help="do not repeat runs longer than this (s)"
    )
    p.add_argument("--methods", nargs="*", default=None, help="only these methods")
    p.add_argument(
        "--graphs", nargs="*", default=None, help="only these graphs (PubMed, synthetic-1M)"
    )
    p.add_argument("--pyg-python", default=None, help="python of a torch-sparse environment")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per measurement of ours")
    p.add_argument("--pyg-timeout", type=int, default=300, help="seconds per PyG measurement")
    add_output_options(p)
    p.add_argument("--worker", nargs=3, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.worker is not None:
        side, spec, method = args.worker[0], json.loads(args.worker[1]), args.worker[2]
        worker = ours_worker if side == "ours" else pyg_worker
        print(json.dumps(worker(spec, method, args)))
        return 0
    sys.path.insert(0, str(ROOT))
    from _common import (
        check_names,
        check_rows_kept,
        command_line,
        output_dir,
        provenance,
        publish,
    )

    if args.methods is not None:
        args.methods = check_names(p, "--methods", args.methods, METHODS)
    if args.graphs is not None:
        args.graphs = check_names(p, "--graphs", args.graphs, GRAPHS)
    if args.quick:
        args.batches, args.repeats = min(args.batches, 5), 1
        args.pyg_timeout, args.timeout = min(args.pyg_timeout, 60), min(args.timeout, 120)
    specs = graph_specs(args)
    if not specs:
        p.error(
            f"--graphs: none of {args.graphs} is measured in this mode (--quick: synthetic-20k)"
        )
    out_dir = output_dir(p, args)
    methods = args.methods or list(METHODS)
    check_rows_kept(
        p,
        out_dir,
        "samplers_speed",
        [f"{spec['name']}/{m}" for spec in specs for m in methods],
        lambda r: [f"{g['graph']}/{m}" for g in r["graphs"] for m in g["ours"]],
    )
    shown = list(argv if argv is not None else sys.argv[1:])
    if "--pyg-python" in shown:  # the interpreter's path is this machine's business
        shown[shown.index("--pyg-python") + 1] = "<python of the torch-sparse environment>"
    session = provenance(command_line("samplers_speed.py", shown))
    result = {
        **session,
        "load_at_start": load_average(),
        "threads": args.threads,
        "repeats": args.repeats,
        "repeat_limit": args.repeat_limit,
        "timeout": args.timeout,
        "pyg_timeout": args.pyg_timeout if args.pyg_python else None,
        "graphs": [],
    }
    for spec in specs:
        edge_index, n = load_graph(spec)
        entry = {
            "graph": spec["name"],
            "num_nodes": n,
            "num_edges": int(edge_index.size(1)),
            "settings": settings(spec),
            "ours": {},
            "pyg": {},
        }
        del edge_index
        for method in methods:
            entry["ours"][method] = run_worker("ours", spec, method, args)
            if args.pyg_python and method in PYG_METHODS:
                entry["pyg"][method] = run_worker("pyg", spec, method, args)
        entry["ratios"] = ratios(entry["ours"], entry["pyg"])
        result["graphs"].append(entry)
    result["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    publish("samplers_speed", result, to_markdown(result), out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
