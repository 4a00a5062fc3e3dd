"""Time per epoch of the spiking GCN against PyG's GCN and a per-time-step reference.

Three models with the same widths are timed in the same run, interleaved round by round:

- ``gcn``: PyG's own :class:`torch_geometric.nn.models.GCN` (the ordinary baseline);
- ``sgcn``: spikegraph's spiking GCN with the CLI's default (tuned) options, direct
  encoding, ``T`` steps: a static input is transformed and propagated once, hidden spike
  trains go through one propagation for all steps, the neurons run a fused multi-step kernel;
- ``per_step``: the same spiking model and parameters run the plain way, calling each layer
  once per time step (propagation included) and stepping the neurons one step at a time
  with :func:`~spikegraph.nn.lif_step` under autograd.

A fourth, ``sgcn_compiled``, is ``sgcn`` under ``torch.compile(fullgraph=True)`` (inductor
by default, ``--compile-backend``), timed for the training epoch in the same rounds.

Every neuron setting (:func:`settings`: the tuned model, the paper's LIF + hard reset + STFN,
tdBN, one row per registered neuron) is timed against PyG's GCN in its own interleaved rounds
(:func:`time_settings`, which ``neuron_speed.py`` shares), training and inference. A roofline
line puts the propagation step's achieved bytes/s against the machine's copy bandwidth,
measured in the same run, with a CSR SpMM and the gather of the rows the edges read (the
irregular reads that bound the step) beside it (:func:`propagation_roofline`). The
mini-batch rows (GraphSAGE on PubMed's full split, every setting against PyG's GCN over the
same batches) come from ``minibatch_speed.py``'s own measuring function
(:func:`minibatch_rows`; ``--no-minibatch`` skips them).

Before timing, the script checks that ``per_step`` and ``sgcn`` compute the same logits.
Reported: median wall time of one training epoch (forward, loss, backward, Adam step) and of
one full-graph inference, and their ratios.

    python benchmarks/speed.py                  # Cora and PubMed, into results/local/
    python benchmarks/speed.py --update-results # the same, replacing results/speed.*
    python benchmarks/speed.py --quick          # smoke run, writes nothing
    python benchmarks/speed.py --no-minibatch   # without the mini-batch rows
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from typing import Any

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

from spikegraph.datasets import DATASETS, load_dataset
from spikegraph.models import PAPER_NEURON, SpikingGCN, build_model
from spikegraph.nn import lif_step
from spikegraph.nn.dropout import temporal_dropout
from spikegraph.nn.neurons import NEURONS
from spikegraph.train import TrainConfig


def per_step_forward(model: SpikingGCN, x: Tensor, edge_index: Tensor) -> Tensor:
    """The spiking GCN computed one time step at a time (the plain reference)."""
    x = temporal_dropout(x, model.input_dropout, model.training)  # one mask for all steps
    steps = [x] * model.T  # direct coding: the same input at every step
    for i, conv in enumerate(model.convs):
        current = torch.stack([conv.current(h, edge_index) for h in steps])
        if conv.norm is not None:
            current = conv.norm(current)
        if conv.neuron is None:
            out = list(current.unbind(0))
        else:
            n, v, out = conv.neuron, None, []
            for t in range(model.T):
                s, v = lif_step(
                    current[t],
                    v,
                    n.decay,
                    n.v_threshold,
                    n.v_reset,
                    n.reset,
                    n.surrogate,
                    n.detach_reset,
                )
                out.append(s)
        if i < model.num_layers - 1:
            out = list(temporal_dropout(torch.stack(out), model.dropout, model.training).unbind(0))
        steps = out
    return torch.stack(steps).mean(dim=0)


def make_step(forward, params, data, train: bool):
    """One training epoch (or one inference) of ``forward``."""
    opt = torch.optim.Adam(params, lr=TrainConfig.lr, weight_decay=TrainConfig.weight_decay)

    def train_step():
        opt.zero_grad(set_to_none=True)
        out = forward(True)
        F.cross_entropy(out[data.train_mask], data.y[data.train_mask]).backward()
        opt.step()

    def infer():
        with torch.no_grad():
            forward(False)

    return train_step if train else infer


def settings() -> dict[str, dict[str, Any]]:
    """Neuron setting name -> options of ``sgcn`` on top of the common ones: the tuned class
    defaults, the paper's neuron (``PAPER_NEURON``: LIF, tau 2, hard reset, STFN), tdBN, and
    one per registered neuron with its own defaults."""
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


def time_settings(data, num_classes: int, hidden: int, T: int, rounds: int) -> dict:
    """Every neuron setting of :func:`settings` and PyG's GCN, interleaved round by round:
    ``SpikingGCN(F, hidden, 2, C, T=T)``, direct encoding, dropout 0.5 between the layers, no
    input dropout. Returns the settings, and per phase the median seconds and the ratios to
    PyG's GCN (and PLIF over LIF)."""
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
        "settings": {
            k: {"options": opts, "neuron": one_line(models[k].convs[0].neuron)}
            for k, opts in settings().items()
        }
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


def _best_seconds(fn, reps: int) -> float:
    """Fastest of ``reps`` calls (after one warm-up): the least disturbed by other load."""
    fn()
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _csr_operator(edge_index: Tensor, edge_weight: Tensor, num_nodes: int) -> Tensor:
    """The normalised graph as a CSR matrix ``[N_dst, N_src]`` (rows: targets)."""
    shape = (num_nodes, num_nodes)
    coo = torch.sparse_coo_tensor(edge_index.flip(0), edge_weight, shape, check_invariants=False)
    return coo.coalesce().to_sparse_csr()


def propagation_roofline(data, hidden: int, T: int, reps: int = 20) -> dict:
    r"""The propagation step :math:`\hat A X` of the spiking GCN's layer as the model runs it
    (``SpikingGCNConv.propagate`` on the cached normalised graph, edge list ``[2, E]``: PyG's
    gather of one row of ``X`` per edge, weighting, ``scatter_add_`` into the targets, the
    same path PyG's ``GCNConv`` runs on an edge list) for ``X`` of ``hidden`` features (the
    first layer's static current) and of ``T`` stacked steps (``[T, N, hidden]``, a hidden
    layer of a deeper model), against, on a tensor of ``X``'s size and in the same run:

    - ``copy``: a ``torch`` copy (the machine's bandwidth for that size);
    - ``csr``: ``torch.sparse.mm`` of the same graph as a CSR matrix (what a CSR SpMM
      reaches here; ``X`` as ``[N, T * hidden]``);
    - ``gather``: ``index_select`` of the ``E`` rows of ``X`` the edges read, by their
      source index, into a preallocated buffer: the irregular reads any SpMM over this edge
      order must make, the physical bound of the step (bytes: ``E * W * 4`` read and as
      many written).

    Bytes moved by propagation (the least any implementation must move, float32 values,
    int64 indices): ``E * (8 + 4)`` (one column index and one weight per edge) ``+ (N + 1) *
    8`` (row pointers) ``+ 2 * N * W * 4`` (read ``X`` once, write the output once), ``W``
    the width (``hidden`` or ``T * hidden``); the copy moves ``2 * N * W * 4``. Reported:
    each one's seconds (best of ``reps`` calls) and GB/s, the fractions of the copy's, and
    how far propagation is from the gather (``propagate / gather`` seconds).
    """
    from spikegraph.nn import SpikingGCNConv

    conv = SpikingGCNConv(data.num_features, hidden, T=T, cached=True)
    num_nodes = data.num_nodes
    ei, ew = conv._normalized_graph(data.edge_index, None, num_nodes, None, data.x.dtype, None)
    num_edges = ew.numel()
    csr = _csr_operator(ei, ew, num_nodes)
    out: dict[str, Any] = {"num_nodes": num_nodes, "num_edges_with_self_loops": num_edges}
    for label, shape in (("static", (num_nodes, hidden)), ("stacked", (T, num_nodes, hidden))):
        x = torch.rand(shape)
        width = x.numel() // num_nodes
        flat = torch.rand(num_nodes, width)  # the CSR path's layout of X
        with torch.no_grad():
            prop = _best_seconds(lambda x=x: conv.propagate(ei, x=x, edge_weight=ew), reps)
            spmm = _best_seconds(lambda flat=flat: torch.sparse.mm(csr, flat), reps)
            rows = torch.empty(num_edges, width)
            gather = _best_seconds(
                lambda flat=flat, rows=rows: torch.index_select(flat, 0, ei[0], out=rows), reps
            )
            del rows
        dst = torch.empty_like(x)
        copy = _best_seconds(lambda x=x, dst=dst: dst.copy_(x), reps)
        moved = num_edges * 12 + (num_nodes + 1) * 8 + 2 * num_nodes * width * 4
        copy_gbps = 2 * x.numel() * 4 / copy / 1e9
        m = {
            "width": width,
            "propagate_seconds": prop,
            "csr_seconds": spmm,
            "gather_seconds": gather,
            "copy_seconds": copy,
            "bytes": moved,
            "propagate_gbps": moved / prop / 1e9,
            "csr_gbps": moved / spmm / 1e9,
            "gather_gbps": 2 * num_edges * width * 4 / gather / 1e9,
            "copy_gbps": copy_gbps,
        }
        m["fraction_of_copy"] = m["propagate_gbps"] / copy_gbps
        m["csr_fraction_of_copy"] = m["csr_gbps"] / copy_gbps
        m["propagate_over_gather"] = prop / gather
        m["csr_over_gather"] = spmm / gather
        out[label] = m
    return out


def bench_dataset(
    name: str,
    root: str | None,
    hidden: int,
    T: int,
    rounds: int,
    input_dropout: float,
    compile_backend: str | None = "inductor",
    neurons: bool = True,
) -> dict:
    data, num_classes = load_dataset(name, root=root)
    torch.manual_seed(0)
    gcn = build_model("gcn", data.num_features, num_classes, hidden_channels=hidden, dropout=0.5)
    common = dict(hidden_channels=hidden, dropout=0.5, T=T, encoder="auto")
    # Like PyG's GCN: dropout between the layers only.
    sgcn = build_model("sgcn", data.num_features, num_classes, **common, input_dropout=0.0)
    # The tuned model also drops input features; PyG's GCN gets the same input dropout
    # in front of it for the like-for-like pair.
    tuned = build_model(
        "sgcn", data.num_features, num_classes, **common, input_dropout=input_dropout
    )

    sgcn.eval()
    with torch.no_grad():
        fast, ref = sgcn(data.x, data.edge_index), per_step_forward(sgcn, data.x, data.edge_index)
    max_diff = float((fast - ref).abs().max())
    if max_diff > 1e-4:
        raise RuntimeError(f"per-step reference differs from the model by {max_diff}")

    def run(model, fn):
        def forward(train: bool):
            model.train(train)
            return fn(data.x, data.edge_index)

        return forward

    def gcn_input_dropout(x, edge_index):
        return gcn(F.dropout(x, input_dropout, gcn.training), edge_index)

    forwards = {
        "gcn": (run(gcn, gcn), gcn),
        "sgcn": (run(sgcn, sgcn), sgcn),
        "per_step": (run(sgcn, lambda x, e: per_step_forward(sgcn, x, e)), sgcn),
        "gcn_input_dropout": (run(gcn, gcn_input_dropout), gcn),
        "sgcn_input_dropout": (run(tuned, tuned), tuned),
    }
    compiled = None
    if compile_backend is not None:
        # The like-for-like spiking GCN again, compiled whole (fullgraph: no graph breaks),
        # from the same initial parameters; timed in the same rounds as the eager one.
        twin = build_model("sgcn", data.num_features, num_classes, **common, input_dropout=0.0)
        twin.load_state_dict(sgcn.state_dict())
        compiled = torch.compile(twin, fullgraph=True, backend=compile_backend)
        forwards["sgcn_compiled"] = (run(twin, compiled), twin)
    row = {
        "dataset": name,
        "num_nodes": data.num_nodes,
        "num_edges": data.num_edges,
        "hidden": hidden,
        "T": T,
        "input_dropout": input_dropout,
        "rounds": rounds,
        "max_abs_diff_per_step": max_diff,
        "compile_backend": compile_backend,
    }
    for phase, train in (("train", True), ("inference", False)):
        fns = {
            k: make_step(f, list(m.parameters()), data, train)
            for k, (f, m) in forwards.items()
            if train or k != "sgcn_compiled"  # compiled: the training epoch only
        }
        if compiled is not None and train:
            start = time.perf_counter()
            fns["sgcn_compiled"]()  # the first call compiles
            row["compile_seconds"] = time.perf_counter() - start
        times = interleaved_times(fns, rounds)
        med = {k: median(v) for k, v in times.items()}
        row[phase] = {
            "seconds": med,
            "sgcn_over_gcn": med["sgcn"] / med["gcn"],
            "per_step_over_sgcn": med["per_step"] / med["sgcn"],
            "sgcn_input_dropout_over_gcn_input_dropout": med["sgcn_input_dropout"]
            / med["gcn_input_dropout"],
            "sgcn_input_dropout_over_gcn": med["sgcn_input_dropout"] / med["gcn"],
        }
        if "sgcn_compiled" in med:
            row[phase]["sgcn_over_sgcn_compiled"] = med["sgcn"] / med["sgcn_compiled"]
    if neurons:
        row["neurons"] = time_settings(data, num_classes, hidden, T, rounds)
        if name == "PubMed":
            row["roofline"] = propagation_roofline(data, hidden, T)
    return row


def neuron_section(record: dict) -> list[str]:
    """Markdown: every neuron setting against PyG's GCN, per dataset (rows that have it)."""
    rows = [r for r in record["rows"] if "neurons" in r]
    if not rows:
        return []
    lines = [
        "",
        "## Every neuron setting, full batch",
        "",
        "`SpikingGCN(F, hidden, 2, C, T)`, direct encoding, dropout 0.5 between the layers, no "
        "input dropout, against PyG's `GCN(F, hidden, 2, C)`; the settings and PyG's GCN "
        "interleaved in their own rounds (ratios from the same rounds). The bar: a training "
        "epoch <= 2.0x PyG's GCN (moonshot 1.3x).",
        "",
        "| dataset | setting | options | neuron | train ms | train / gcn | inference ms | "
        "inference / gcn |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        n = row["neurons"]
        tr, inf = n["train"], n["inference"]
        lines.append(
            f"| {row['dataset']} | PyG gcn | - | - | {1e3 * tr['seconds']['gcn']:.1f} | 1.00x | "
            f"{1e3 * inf['seconds']['gcn']:.1f} | 1.00x |"
        )
        for key, setting in n["settings"].items():
            lines.append(
                f"| {row['dataset']} | {key} | `{setting['options']}` | `{setting['neuron']}` | "
                f"{1e3 * tr['seconds'][key]:.1f} | {tr['over_gcn'][key]:.2f}x | "
                f"{1e3 * inf['seconds'][key]:.1f} | {inf['over_gcn'][key]:.2f}x |"
            )
    return lines


def roofline_section(record: dict) -> list[str]:
    """Markdown: the propagation step's bytes/s against the copy bandwidth (rows that have
    it)."""
    rows = [r for r in record["rows"] if "roofline" in r]
    if not rows:
        return []
    lines = [
        "",
        "## Roofline of the propagation step",
        "",
        "`SpikingGCNConv.propagate` (the model's own call, cached normalised graph with self "
        "loops) on `X` of width W, against `torch` copying a tensor of `X`'s size, both "
        "measured in this run (best of 20 calls). Bytes moved by propagation (the least any "
        "implementation moves; float32 values, int64 indices): `E * (8 + 4) + (N + 1) * 8 + "
        "2 * N * W * 4` (a column index and a weight per edge, the row pointers, `X` read once "
        "and the output written once); by the copy: `2 * N * W * 4`.",
        "",
        "| dataset | X | N | E | W | propagate ms | propagate GB/s | copy GB/s | "
        "fraction of copy | CSR spmm ms | CSR GB/s (fraction) | gather of E rows ms "
        "(GB/s) | propagate / gather | CSR / gather |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        r = row["roofline"]
        for label in ("static", "stacked"):
            m = r[label]
            lines.append(
                f"| {row['dataset']} | {label} | {r['num_nodes']:,} | "
                f"{r['num_edges_with_self_loops']:,} | {m['width']} | "
                f"{1e3 * m['propagate_seconds']:.2f} | {m['propagate_gbps']:.1f} | "
                f"{m['copy_gbps']:.1f} | {100 * m['fraction_of_copy']:.0f}% | "
                f"{1e3 * m['csr_seconds']:.2f} | {m['csr_gbps']:.1f} "
                f"({100 * m['csr_fraction_of_copy']:.0f}%) | "
                f"{1e3 * m['gather_seconds']:.2f} ({m['gather_gbps']:.1f}) | "
                f"{m['propagate_over_gather']:.1f}x | {m['csr_over_gather']:.1f}x |"
            )
    lines += [
        "",
        "What bounds it: the graph is irregular, so any SpMM over this edge order reads one "
        "row of `X` per edge at a data-dependent address (`E * W * 4` bytes, about 5.5 rows "
        "per node on PubMed, several times the minimum above). The `gather` column times "
        "exactly these reads (`index_select` of the `E` rows into a preallocated buffer, "
        "read and write counted): it is the physical bound of the step here, and "
        "`propagate / gather` is the distance to it. The copy of a tensor of `X`'s size "
        "is not that bound: it streams contiguous memory (and at the static width `X` fits "
        "in the last-level cache). The model's propagation is PyG's edge-list path (gather, "
        "weight, `scatter_add_`, each writing an `[E, W]` temporary), the path PyG's "
        "`GCNConv` takes too; a CSR SpMM (`torch.sparse.mm`) avoids the temporaries.",
    ]
    return lines


#: The mini-batch rows: GraphSAGE batches of this many seeds and neighbours per hop (the
#: setting of ``minibatch_speed.py``'s own runs), on PubMed's full split.
MINIBATCH = {"dataset": "PubMed", "batch_size": 512, "num_neighbors": [10, 10]}


def minibatch_rows(
    root: str | None, hidden: int, T: int, rounds: int, quick: bool = False
) -> dict[str, Any]:
    """Mini-batch training epochs of every neuron setting against PyG's GCN over the same
    GraphSAGE batches, measured by ``minibatch_speed.py``'s own ``bench_dataset`` (PubMed's
    full split, :data:`MINIBATCH`; ``quick``: Cora, 2 batches, 1 round)."""
    import minibatch_speed

    name = "Cora" if quick else MINIBATCH["dataset"]
    return minibatch_speed.bench_dataset(
        name,
        root,
        hidden,
        T,
        1 if quick else rounds,
        MINIBATCH["batch_size"],
        list(MINIBATCH["num_neighbors"]),
        2 if quick else None,
        list(minibatch_speed.MODES),
    )


def minibatch_section(record: dict) -> list[str]:
    """Markdown: the mini-batch (GraphSAGE) epochs of every neuron setting against PyG's GCN
    over the same batches (``record["minibatch"]``, from :func:`minibatch_rows`); empty
    when the run skipped them (``--no-minibatch``)."""
    row = record.get("minibatch")
    if not row:
        return []
    s, mb = row["sampler"], row["mean_batch"]
    best = row["pyg_best_mode"]
    lines = [
        "",
        f"## Every neuron setting, mini-batch ({row['dataset']}, split={row['split']})",
        "",
        f"`SpikingGCN(F, {row['hidden']}, 2, C, T={row['T']})` and PyG's "
        f"`GCN(F, {row['hidden']}, 2, C)` trained over one fixed list of {row['num_batches']} "
        f"{s['name']} batches (`num_neighbors={s['num_neighbors']}`, {s['batch_size']} seeds, "
        f"{mb['n_id']:,.0f} nodes per batch on average), interleaved in {row['rounds']} "
        "rounds (median epoch; forward, loss, backward, Adam step per batch), measured by "
        "`minibatch_speed.py`'s `bench_dataset`. Modes: `subgraph` (the model on the sampled "
        "subgraph), `blocks` (layer i on block i); PyG's GCN also runs `trim` "
        f"(`trim_to_layer`). The fastest PyG GCN here: `{best}`, "
        f"{1e3 * row['seconds'][f'gcn/{best}']:.0f} ms per epoch.",
        "",
        "| setting | mode | epoch ms | / PyG GCN same mode | / fastest PyG GCN |",
        "|---|---|---|---|---|",
    ]
    for key in row["seconds"]:
        if key.startswith("gcn/"):
            sec = row["seconds"][key]
            lines.append(
                f"| PyG gcn | {key.split('/')[1]} | {1e3 * sec:.0f} | 1.00x | "
                f"{sec / row['seconds'][f'gcn/{best}']:.2f}x |"
            )
    for key in row["settings"]:
        for mode in row["modes"]:
            k = f"{key}/{mode}"
            lines.append(
                f"| {key} | {mode} | {1e3 * row['seconds'][k]:.0f} | "
                f"{row['over_gcn_same_mode'][k]:.2f}x | {row['over_gcn_best'][k]:.2f}x |"
            )
    bar = row["bar"]
    lines += [
        "",
        f"Bar (every setting in `{bar['mode']}` mode within {bar['max']:.1f}x of the fastest "
        f"PyG GCN): {'met' if bar['met'] else 'NOT met'} (worst {bar['worst']:.2f}x).",
    ]
    return lines


def to_markdown(record: dict) -> str:
    lines = [
        "# Speed: spiking GCN vs PyG GCN vs per-time-step reference",
        "",
        provenance_md(record["provenance"]),
        "Median wall time per epoch (training: forward, loss, backward, Adam step; inference: "
        "one full-graph forward) over interleaved rounds; every ratio is measured in the same "
        "run. Same widths; the spiking GCN uses the CLI's tuned neuron (integrate-and-fire, "
        "soft reset, no normalisation), direct encoding.",
        "",
        "Like for like: both models with dropout between the layers only (PyG's GCN has no "
        "input dropout).",
        "",
        "| dataset | phase | PyG GCN (ms) | spiking GCN (ms) | per-step ref (ms) | "
        "sgcn / gcn | per-step / sgcn |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in record["rows"]:
        for phase in ("train", "inference"):
            r = row[phase]
            s = r["seconds"]
            lines.append(
                f"| {row['dataset']} (T={row['T']}, hidden {row['hidden']}) | {phase} | "
                f"{1e3 * s['gcn']:.1f} | {1e3 * s['sgcn']:.1f} | {1e3 * s['per_step']:.1f} | "
                f"{r['sgcn_over_gcn']:.2f}x | {r['per_step_over_sgcn']:.2f}x |"
            )
    p = record["rows"][0]["input_dropout"] if record["rows"] else 0.0
    lines += [
        "",
        f"With the tuned model's input dropout ({p}, one mask for all time steps): the spiking "
        "GCN against PyG's GCN with the same input dropout in front of it, and against plain "
        "PyG's GCN. Dropping input features is dense work on PubMed (features stored dense, "
        "10% non-zero), paid by both models alike.",
        "",
        "| dataset | phase | PyG GCN + input dropout (ms) | spiking GCN + input dropout (ms) "
        "| ratio | ratio to plain PyG GCN |",
        "|---|---|---|---|---|---|",
    ]
    for row in record["rows"]:
        r = row["train"]
        s = r["seconds"]
        lines.append(
            f"| {row['dataset']} | train | {1e3 * s['gcn_input_dropout']:.1f} | "
            f"{1e3 * s['sgcn_input_dropout']:.1f} | "
            f"{r['sgcn_input_dropout_over_gcn_input_dropout']:.2f}x | "
            f"{r['sgcn_input_dropout_over_gcn']:.2f}x |"
        )
    compiled = [row for row in record["rows"] if "sgcn_compiled" in row["train"]["seconds"]]
    if compiled:
        lines += [
            "",
            f"`torch.compile(model, fullgraph=True)` (backend "
            f"{compiled[0]['compile_backend']!r}) against eager mode: the like-for-like spiking "
            "GCN, one training epoch, timed in the same rounds. Compiled, the first layer "
            "takes the features dense (the sparse-input path is eager only) and the neurons "
            "stay the numba kernels (opaque custom ops). Compile time is the first call's.",
            "",
            "| dataset | phase | eager (ms) | compiled (ms) | eager / compiled "
            "| compile time (s) |",
            "|---|---|---|---|---|---|",
        ]
        for row in compiled:
            r = row["train"]
            s = r["seconds"]
            lines.append(
                f"| {row['dataset']} | train | {1e3 * s['sgcn']:.1f} | "
                f"{1e3 * s['sgcn_compiled']:.1f} | {r['sgcn_over_sgcn_compiled']:.2f}x | "
                f"{row['compile_seconds']:.0f} |"
            )
    lines += neuron_section(record)
    lines += roofline_section(record)
    # Mini-batch section: appended here (see minibatch_section).
    lines += minibatch_section(record)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=["Cora", "PubMed"])
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--T", type=int, default=8)
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument(
        "--input-dropout", type=float, default=0.5, help="of the tuned spiking GCN (default 0.5)"
    )
    p.add_argument(
        "--compile-backend",
        default="inductor",
        help="torch.compile backend of the compiled-vs-eager row (default: inductor; 'none' "
        "skips the row)",
    )
    p.add_argument(
        "--no-neurons",
        action="store_true",
        help="skip the table of every neuron setting and the roofline line",
    )
    p.add_argument(
        "--no-minibatch",
        action="store_true",
        help="skip the mini-batch (GraphSAGE, PubMed full split) rows of every neuron setting",
    )
    p.add_argument("--minibatch-rounds", type=int, default=5, help="rounds of the mini-batch rows")
    p.add_argument(
        "--quick",
        action="store_true",
        help="Cora, 2 rounds (mini-batch rows: Cora, 2 batches, 1 round), write nothing",
    )
    add_output_options(p)
    args = p.parse_args(argv)
    args.datasets = check_names(p, "--datasets", args.datasets, DATASETS)
    if len(set(args.datasets)) != len(args.datasets):
        p.error(f"--datasets: duplicates in {args.datasets}")
    if args.minibatch_rounds < 1:
        p.error(f"--minibatch-rounds must be >= 1, got {args.minibatch_rounds}")
    if args.quick:
        args.datasets, args.rounds = ["Cora"], 2
        if args.compile_backend == "inductor":  # a smoke run: no minutes of code generation
            args.compile_backend = "aot_eager"
    backend = None if args.compile_backend == "none" else args.compile_backend
    out = output_dir(p, args)
    check_rows_kept(p, out, "speed", args.datasets, lambda r: [x["dataset"] for x in r["rows"]])
    command = command_line("speed.py", sys.argv[1:] if argv is None else argv)
    rows = [
        bench_dataset(
            d,
            args.root,
            args.hidden,
            args.T,
            args.rounds,
            args.input_dropout,
            backend,
            not args.no_neurons,
        )
        for d in args.datasets
    ]
    record: dict[str, Any] = {"provenance": provenance(command), "rows": rows}
    if not args.no_minibatch:
        record["minibatch"] = minibatch_rows(
            args.root, args.hidden, args.T, args.minibatch_rounds, args.quick
        )
    publish("speed", record, to_markdown(record), out)
    return record


if __name__ == "__main__":
    main()
