r"""Bias and variance of every sampler of the zoo at equal budgets: the survey's central
comparison (Liu et al., 2022), as numbers.

For each sampler of :data:`spikegraph.samplers.SAMPLERS` and each budget, against the exact
full-batch values of the same model with the same fixed weights (PyG's 2-layer ``GCN``,
random weights from a fixed seed, eval mode, so no dropout):

(a) **the first layer's aggregation** :math:`\hat A X W` (the conv's output without its bias)
    at the nodes the first layer outputs (block 0's targets, the rows layer 2 reads), as the
    model computes it from the batch: on block 0 in ``"blocks"`` mode (layer-wise samplers,
    VR-GCN), on the sampled subgraph in ``"subgraph"`` mode (nested samplers, the default
    mode of each sampler). Errors are gathered per node over ``S`` batches. Seed-based
    samplers draw their ``S`` batches around one fixed set of seeds, so every target is seen
    ``S`` times; subgraph samplers draw their own subgraphs, so a node is seen as often as
    they happen to draw it. Over the nodes seen at least twice:

    - ``bias``: :math:`\|\bar e\| / \|x\|`, the norm of the per-node mean errors relative to
      the norm of the exact values, with its standard error ``se``
      (:math:`\sqrt{\sum_v \sigma^2_v / n_v} / \|x\|`: what the bias reads for an unbiased
      estimator from ``n_v`` draws; a bias well above ``se`` is a real bias);
    - ``variance``: the mean squared deviation of one batch's estimate from the node's mean,
      :math:`\sum_v \sigma^2_v / \sum_v \|x_v\|^2`.

(b) **the full-batch gradient** of the training loss (mean cross-entropy over the training
    nodes) w.r.t. all the model's parameters: each of ``S`` batches (random seeds, or the
    sampler's own subgraphs, with the batch's ``loss_weight``) gives one gradient, compared
    with the full-batch one by the same statistics (one "node": the gradient vector).

**Budget**: the number of nodes of the input layer, the largest layer of every sampler
(block 0's sources, ``batch.n_id``: the nodes whose features a batch reads; for subgraph
samplers the subgraph's nodes). Each sampler's size option is calibrated to reach it (its
fan-outs or subgraph options otherwise the class defaults): the batch size for node-wise
samplers, ``layer_sizes`` for layer-wise ones (with ``min(default batch size, budget / 4)``
targets per batch), the subgraph size option (``budget``, ``num_roots``, ``subgraph_size``,
``num_parts``) for subgraph samplers. The achieved mean nodes of every layer (input, hidden,
targets) are reported, so the equality is shown, not assumed.

Samplers with historical activations (VR-GCN) appear twice: with warm histories, set to the
exact activations of the fixed weights (what one epoch over the training nodes with these
weights writes: VR-GCN's input layer reads the features as its history, so its first layer
is exact), and with cold ones (zeros before every batch: plain sampling of its neighbours
with the exact self term). AS-GCN's sampling function is measured at its initial state:
batches are drawn with ``sample`` and never bound, so it does not learn.

Graphs: PubMed (``split="full"``) and the 1M-node / 20M-edge synthetic graph of
``samplers_speed.py`` with random features and labels from a fixed seed (only bias and
variance mean anything there). ``--quick`` runs a 2,000-node synthetic graph in seconds.
Cluster-GCN is skipped on the 1M-node graph unless asked for (``--skip none``): METIS needs
minutes per partition there (about 190 s for 200 parts in ``samplers_speed.md``).

Usage::

    SPIKEGRAPH_DATA=../shared/datasets python benchmarks/samplers_variance.py
    python benchmarks/samplers_variance.py --quick          # smoke run, writes nothing

Results go to the scratch folder ``benchmarks/results/local/`` (ignored by git), to ``--out
DIR``, or, with ``--update-results``, to the committed ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (str(HERE), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from torch_geometric.data import Data  # noqa: E402
from torch_geometric.nn import GCN  # noqa: E402
from torch_geometric.nn.conv.gcn_conv import gcn_norm  # noqa: E402

from spikegraph.experiments.gradient_error import (  # noqa: E402  (one copy, in the library)
    ErrorStats,
    batch_gradient,
    flat_grad,  # noqa: F401  (the benchmark's tests check the exact values with it)
    layer_sizes_of,
    loss_gradient,
)
from spikegraph.samplers import SAMPLERS, Batch, Block, Loader, resolve_mode  # noqa: E402
from spikegraph.train.blocks import gcn_conv_block  # noqa: E402
from spikegraph.train.minibatch import build_loader  # noqa: E402

STEM = "samplers_variance"
GRAPHS = ("PubMed", "synthetic-1M", "synthetic-2k")  # the last one: --quick
#: Subgraph samplers' size options, and whether the subgraph grows (+1) or shrinks (-1)
#: with them.
SUBGRAPH_KNOBS = {"budget": 1, "num_roots": 1, "subgraph_size": 1, "num_parts": -1}
DEFAULT_SKIP = ("synthetic-1M/cluster-gcn",)
HIDDEN = 16


# ----------------------------------------------------------------------------- exact values
def gcn_adjacency(edge_index: Tensor, num_nodes: int) -> Tensor:
    r"""GCN's :math:`\hat A = \tilde D^{-1/2}(A + I)\tilde D^{-1/2}` as PyG's ``gcn_norm``
    computes it, as a sparse ``[N, N]`` matrix with ``(\hat A h)_v = \sum_{u \to v} w h_u``."""
    ei, w = gcn_norm(edge_index, None, num_nodes, add_self_loops=True)
    return torch.sparse_coo_tensor(
        ei.flip(0), w, (num_nodes, num_nodes), check_invariants=False
    ).coalesce()


def full_forward(model: GCN, x: Tensor, adj: Tensor) -> tuple[Tensor, list[Tensor]]:
    r"""PyG's ``GCN`` (ReLU, no normalisation layer, no jumping knowledge) in eval mode on the
    whole graph, with sparse products instead of per-edge messages (a 20M-edge graph fits).

    Returns:
        ``(logits, aggregations)``: ``aggregations[i]`` is layer ``i``'s :math:`\hat A H W`
        (without bias).
    """
    aggs = []
    h = x
    for i, conv in enumerate(model.convs):
        agg = torch.sparse.mm(adj, conv.lin(h))
        aggs.append(agg)
        h = agg + conv.bias if conv.bias is not None else agg
        if i < len(model.convs) - 1:
            h = model.act(h)
    return h, aggs


def full_batch_gradient(
    model: GCN, x: Tensor, y: Tensor, adj: Tensor, train: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """``(gradient, first-layer aggregation, hidden activations)`` of the full batch: the
    gradient of the mean cross-entropy over ``train`` w.r.t. every parameter, through
    :func:`full_forward` (sparse products: a 20M-edge graph fits)."""
    aggs: list[Tensor] = []

    def loss() -> Tensor:
        logits, layer_aggs = full_forward(model, x, adj)
        aggs.extend(layer_aggs)
        return F.cross_entropy(logits[train], y[train])

    grad = loss_gradient(model, loss)
    with torch.no_grad():
        conv = model.convs[0]
        hidden = model.act(aggs[0] + conv.bias if conv.bias is not None else aggs[0])
    return grad, aggs[0].detach(), hidden.detach()


# ----------------------------------------------------------------------------- estimates
def first_layer_estimate(model: GCN, x: Tensor, batch: Batch, mode: str) -> tuple[Tensor, Tensor]:
    r"""``(ids, estimate)``: the model's first-layer :math:`\hat A X W` (no bias) at block 0's
    targets (global ``ids``), as the model computes it from ``batch`` in ``mode``."""
    conv = model.convs[0]
    block0 = batch.blocks[0]
    num_dst = block0.size[1]
    x_in = x[batch.n_id]
    if mode == "subgraph":
        edge_index, edge_weight = batch.subgraph(final_weights=True)
        if block0.weights_final:
            n = batch.n_id.numel()
            out = gcn_conv_block(conv, x_in, Block(edge_index, edge_weight, (n, n), None, True))
        else:
            out = conv(x_in, edge_index, edge_weight)
        ids = batch.n_id[:num_dst]
    else:
        out = gcn_conv_block(conv, x_in, block0)
        if batch.layer_n_id is not None and len(batch.blocks) > 1:
            ids = batch.layer_n_id[1]
        elif batch.nested:
            ids = batch.n_id[:num_dst]
        else:
            raise ValueError("cannot tell the global ids of block 0's targets of this batch")
    out = out[:num_dst]
    if conv.bias is not None:
        out = out - conv.bias
    return ids, out


# ----------------------------------------------------------------------------- calibration
def size_knob(cls: type) -> str:
    """The option a sampler's budget is calibrated with (see the module docstring).

    Raises:
        ValueError: for a subgraph sampler with none of the known size options.
    """
    if "layer_sizes" in cls.default_options:
        return "layer_sizes"
    if cls.takes_seeds:
        return "batch_size"
    for k in SUBGRAPH_KNOBS:
        if k in cls.default_options:
            return k
    raise ValueError(
        f"sampler {cls.name!r} has none of the size options {sorted(SUBGRAPH_KNOBS)} and "
        "takes no seeds: say in samplers_variance.SUBGRAPH_KNOBS which option sizes it"
    )


def calibrate(
    measure: Callable[[int], float],
    guess: int,
    target: float,
    direction: int = 1,
    tol: float = 0.1,
    max_probes: int = 4,
    limit: int | None = None,
) -> tuple[int, float, list[tuple[int, float]]]:
    """Find an integer knob whose ``measure`` is within ``tol`` of ``target``.

    ``measure`` grows with the knob (``direction=1``) or shrinks (``-1``). Steps are
    multiplicative at first, then secant in log-log space.

    Returns:
        ``(knob, measured, probes)``: the probe closest to ``target`` and every probe.
    """
    probes: list[tuple[int, float]] = []
    knob = max(1, int(guess))
    for _ in range(max_probes):
        if limit is not None:
            knob = min(knob, limit)
        value = measure(knob)
        probes.append((knob, value))
        if abs(value / target - 1) <= tol or value <= 0:
            break
        slope = float(direction)
        if len(probes) >= 2:
            (k1, v1), (k2, v2) = probes[-2], probes[-1]
            if k1 != k2 and v1 > 0 and v1 != v2:
                s = math.log(v2 / v1) / math.log(k2 / k1)
                if s * direction > 0.05:
                    slope = s
        new = max(1, round(knob * (target / value) ** (1 / slope)))
        if limit is not None:
            new = min(new, limit)
        if any(new == k for k, _ in probes):
            break
        knob = new
    best = min(probes, key=lambda p: abs(math.log(max(p[1], 1e-9) / target)))
    return best[0], best[1], probes


# ----------------------------------------------------------------------------- one sampler
@dataclass
class Setup:
    """A calibrated sampler: how to draw its batches."""

    name: str
    sampler: Any
    knob: str
    knob_value: Any
    batch_size: int | None
    probes: list = field(default_factory=list)


def family(cls: type) -> str:
    if not cls.takes_seeds:
        return "subgraph"
    if "layer_sizes" in cls.default_options:
        return "layer-wise"
    return "node-wise"


def random_seeds(train: Tensor, size: int, gen: torch.Generator) -> Tensor:
    return train[torch.randperm(train.numel(), generator=gen)[:size]]


def build(name: str, data: Data, options: dict, batch_size: int | None, seed: int) -> Any:
    return build_loader(name, data, 2, batch_size, options, seed=seed).sampler


def mean_input(batches: Iterator[Batch], k: int = 3) -> float:
    sizes = [b.n_id.numel() for _, b in zip(range(k), batches)]
    return sum(sizes) / len(sizes)


def subgraph_batches(sampler: Any, num: int, seed: int) -> Iterator[Batch]:
    yield from Loader(sampler, shuffle=True, num_batches=num, seed=seed)


def seed_batches(sampler: Any, seeds: Callable[[], Tensor], num: int, seed: int) -> Iterator[Batch]:
    gen = torch.Generator().manual_seed(seed)
    for _ in range(num):
        yield sampler.sample(seeds(), generator=gen)


def setup_sampler(name: str, data: Data, train: Tensor, budget: int, seed: int) -> Setup:
    """Build sampler ``name`` with its size option calibrated to ``budget`` input nodes."""
    cls = SAMPLERS[name]
    knob = size_knob(cls)
    gen = torch.Generator().manual_seed(seed + 1)
    n_train = train.numel()
    if knob == "batch_size":
        sampler = build(name, data, {}, cls.default_batch_size, seed)

        def measure_b(b: int) -> float:
            return mean_input(seed_batches(sampler, lambda: random_seeds(train, b, gen), 3, seed))

        probe = measure_b(min(8, n_train))
        guess = round(min(8, n_train) * budget / probe)
        b, _, probes = calibrate(measure_b, guess, budget, limit=n_train)
        return Setup(name, sampler, knob, b, b, probes)
    if knob == "layer_sizes":
        batch_size = min(cls.default_batch_size, max(1, budget // 4), n_train)
        built: dict[int, Any] = {}

        def measure_s(s: int) -> float:
            built[s] = build(name, data, {"layer_sizes": [s, s]}, batch_size, seed)
            batches = seed_batches(built[s], lambda: random_seeds(train, batch_size, gen), 3, seed)
            return mean_input(batches)

        s, _, probes = calibrate(measure_s, budget, budget)
        return Setup(name, built[s], knob, [s, s], batch_size, probes)
    direction = SUBGRAPH_KNOBS[knob]
    defaults = cls.options_for(2)
    if knob == "num_parts":
        guess = round(data.num_nodes * defaults.get("clusters_per_batch", 1) / budget)
    elif knob == "num_roots":
        guess = round(budget / (defaults.get("walk_length", 1) + 1))
    elif knob == "budget" and "edge" in name:
        guess = budget // 2
    else:
        guess = budget
    built = {}

    def measure_k(k: int) -> float:
        built[k] = build(name, data, {knob: k}, None, seed)
        return mean_input(subgraph_batches(built[k], 3, seed))

    limit = data.num_nodes if knob == "num_parts" else None
    k, _, probes = calibrate(measure_k, guess, budget, direction, limit=limit)
    return Setup(name, built[k], knob, k, None, probes)


def measure_sampler(
    setup: Setup,
    model: GCN,
    data: Data,
    train: Tensor,
    exact: dict[str, Tensor],
    num_batches: int,
    seed: int,
    history: str | None = None,
) -> dict[str, Any]:
    """Bias and variance of ``setup``'s estimates of ÂXW and of the gradient (module
    docstring); ``history``: ``"warm"`` or ``"cold"`` for samplers with histories."""
    sampler = setup.sampler
    mode = resolve_mode(sampler, None)
    store = getattr(sampler, "history", None)

    def prepare() -> None:
        if store is None:
            return
        store.reset()
        if history == "warm":
            store.fill(1, exact["hidden"], static=False)

    agg_stats = ErrorStats(exact["agg"])
    grad_stats = ErrorStats(exact["grad"].unsqueeze(0))
    gen = torch.Generator().manual_seed(seed + 2)
    if sampler.takes_seeds:
        fixed = random_seeds(train, setup.batch_size, gen)
        agg_batches = seed_batches(sampler, lambda: fixed, num_batches, seed + 3)
        grad_batches = seed_batches(
            sampler, lambda: random_seeds(train, setup.batch_size, gen), num_batches, seed + 4
        )
    else:
        agg_batches = subgraph_batches(sampler, num_batches, seed + 3)
        grad_batches = subgraph_batches(sampler, num_batches, seed + 4)
    sample_time = 0.0
    sizes: list[list[int]] = []
    targets: list[int] = []
    with torch.no_grad():
        for _ in range(num_batches):
            start = time.perf_counter()
            batch = next(agg_batches)
            sample_time += time.perf_counter() - start
            prepare()
            agg_stats.add(*first_layer_estimate(model, data.x, batch, mode))
    skipped, compute_time = 0, 0.0
    for _ in range(num_batches):
        start = time.perf_counter()
        batch = next(grad_batches)
        sample_time += time.perf_counter() - start
        sizes.append(layer_sizes_of(batch))
        targets.append(batch.num_targets)
        prepare()
        start = time.perf_counter()
        grad = batch_gradient(model, data, batch, mode)
        compute_time += time.perf_counter() - start
        if grad is None:
            skipped += 1
            continue
        grad_stats.add(torch.zeros(1, dtype=torch.long), grad.unsqueeze(0))
    per_layer = [sum(s[i] for s in sizes) / len(sizes) for i in range(len(sizes[0]))]
    return {
        "sampler": setup.name + (f" ({history} histories)" if history else ""),
        "family": family(type(sampler)) + (" + histories" if history else ""),
        "mode": mode,
        "knob": setup.knob,
        "knob_value": setup.knob_value,
        "batch_size": setup.batch_size,
        "calibration_probes": setup.probes,
        "nodes_per_layer": per_layer,
        "targets_per_batch": sum(targets) / len(targets),
        "batches": num_batches,
        "batches_without_targets": skipped,
        "agg": agg_stats.summary(),
        "grad": grad_stats.summary(),
        "sample_ms": 1e3 * sample_time / (2 * num_batches),
        "forward_backward_ms": 1e3 * compute_time / num_batches,
        "sampler_repr": repr(sampler),
    }


# ----------------------------------------------------------------------------- graphs
def graph_specs(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.quick:
        return [
            {
                "name": "synthetic-2k",
                "kind": "synthetic",
                "num_nodes": 2_000,
                "num_pairs": 10_000,
                "features": 16,
                "classes": 4,
            }
        ]
    specs = [
        {"name": "PubMed", "kind": "dataset", "root": args.root},
        {
            "name": "synthetic-1M",
            "kind": "synthetic",
            "num_nodes": 1_000_000,
            "num_pairs": 10_000_000,
            "features": 64,
            "classes": 8,
        },
    ]
    return [s for s in specs if args.graphs is None or s["name"] in args.graphs]


def load_graph(spec: dict[str, Any], seed: int) -> tuple[Data, int]:
    """The graph with features, labels and a train mask."""
    if spec["kind"] == "dataset":
        from spikegraph.datasets import load_dataset

        data, num_classes = load_dataset(spec["name"], root=spec.get("root"), split="full")
        return data, num_classes
    from samplers_speed import synthetic_graph

    n = spec["num_nodes"]
    edge_index = synthetic_graph(n, spec["num_pairs"], seed=0)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, spec["features"], generator=gen)
    y = torch.randint(0, spec["classes"], (n,), generator=gen)
    data = Data(x=x, y=y, edge_index=edge_index, train_mask=torch.ones(n, dtype=torch.bool))
    return data, spec["classes"]


def make_model(in_channels: int, num_classes: int, seed: int) -> GCN:
    """PyG's 2-layer GCN with fixed random weights, in eval mode."""
    torch.manual_seed(seed)
    model = GCN(in_channels, HIDDEN, num_layers=2, out_channels=num_classes, dropout=0.5)
    with torch.no_grad():  # random biases too, so that no part of the gradient is trivial
        for conv in model.convs:
            conv.bias.normal_(0.0, 0.1)
    return model.eval()


def exact_values(model: GCN, data: Data, train: Tensor) -> dict[str, Tensor]:
    adj = gcn_adjacency(data.edge_index, data.num_nodes)
    grad, agg, hidden = full_batch_gradient(model, data.x, data.y, adj, train)
    return {"grad": grad, "agg": agg, "hidden": hidden}


def run_graph(spec: dict[str, Any], args: argparse.Namespace, names: list[str]) -> dict[str, Any]:
    start = time.perf_counter()
    data, num_classes = load_graph(spec, args.seed)
    train = data.train_mask.nonzero().view(-1)
    model = make_model(data.num_features, num_classes, args.seed)
    exact = exact_values(model, data, train)
    print(
        f"{spec['name']}: {data.num_nodes:,} nodes, {data.edge_index.size(1):,} edges, "
        f"{train.numel():,} training nodes; exact values in {time.perf_counter() - start:.1f} s",
        flush=True,
    )
    rows, skipped = [], []
    for budget in args.budgets:
        for name in names:
            if f"{spec['name']}/{name}" in args.skip:
                skipped.append({"sampler": name, "budget": budget})
                continue
            t0 = time.perf_counter()
            setup = setup_sampler(name, data, train, budget, args.seed)
            variants = (
                [None]
                if getattr(setup.sampler, "history", None) is None
                else [
                    "warm",
                    "cold",
                ]
            )
            for history in variants:
                row = measure_sampler(
                    setup, model, data, train, exact, args.batches, args.seed, history
                )
                row["budget"] = budget
                row["seconds"] = time.perf_counter() - t0
                rows.append(row)
                print("  " + row_line(row), flush=True)
            del setup
    return {
        "graph": spec["name"],
        "num_nodes": data.num_nodes,
        "num_edges": int(data.edge_index.size(1)),
        "num_train": int(train.numel()),
        "features": data.num_features,
        "classes": num_classes,
        "rows": rows,
        "skipped": skipped,
        "seconds": time.perf_counter() - start,
    }


# ----------------------------------------------------------------------------- report
def _num(v: float | None, digits: int = 3) -> str:
    if v is None:
        return "-"
    return f"{v:.{digits}g}" if v != 0 else "0"


def _bias(s: dict[str, Any]) -> str:
    return "-" if s["bias"] is None else f"{_num(s['bias'])} ± {_num(s['bias_se'], 2)}"


def row_line(row: dict[str, Any]) -> str:
    sizes = "/".join(f"{v:.0f}" for v in row["nodes_per_layer"])
    return (
        f"{row['sampler']:<28} budget {row['budget']:>5}: nodes/layer {sizes:<16} "
        f"AXW bias {_bias(row['agg'])} var {_num(row['agg']['variance'])}; "
        f"grad bias {_bias(row['grad'])} var {_num(row['grad']['variance'])}; "
        f"{row['sample_ms']:.1f} + {row['forward_backward_ms']:.1f} ms/batch"
    )


def to_markdown(result: dict[str, Any]) -> str:
    from _common import provenance_md

    lines = [
        "# Bias and variance of the sampler zoo at equal budgets",
        "",
        provenance_md(result).rstrip("\n"),
        f"- model: PyG `GCN`, 2 layers, {HIDDEN} hidden units, fixed random weights (seed "
        f"{result['seed']}), eval mode (no dropout)",
        f"- S = {result['batches']} batches per estimate (ÂXW: seed-based samplers around "
        "one fixed seed set; gradient: random seeds or the sampler's subgraphs)",
        "- budget: nodes of the input layer (block 0's sources); nodes/layer: achieved mean "
        "nodes of the input layer / hidden layer / targets",
        "- bias: ‖mean error‖ / ‖exact‖ over the rows seen at least twice, ± its standard "
        "error (what an unbiased estimator reads); variance: mean squared deviation of one "
        "batch's estimate / ‖exact‖²; ÂXW per node of block 0's targets, gradient over all "
        "parameters",
        "- ms/batch: sampling + forward/backward (gradient batches)",
        "",
    ]
    for g in result["graphs"]:
        lines += [
            f"## {g['graph']} ({g['num_nodes']:,} nodes, {g['num_edges']:,} edges, "
            f"{g['num_train']:,} training nodes)",
            "",
            "| sampler | family | budget | nodes/layer | targets | size option | ÂXW bias | "
            "ÂXW variance | grad bias | grad variance | ms/batch |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in g["rows"]:
            sizes = " / ".join(f"{v:.0f}" for v in r["nodes_per_layer"])
            knob = f"{r['knob']}={r['knob_value']}"
            lines.append(
                f"| {r['sampler']} | {r['family']} | {r['budget']} | {sizes} | "
                f"{r['targets_per_batch']:.0f} | {knob} | {_bias(r['agg'])} | "
                f"{_num(r['agg']['variance'])} | {_bias(r['grad'])} | "
                f"{_num(r['grad']['variance'])} | "
                f"{r['sample_ms']:.1f} + {r['forward_backward_ms']:.1f} |"
            )
        for s in g["skipped"]:
            lines.append(
                f"| {s['sampler']} | skipped | {s['budget']} | - | - | - | - | - | - | - | - |"
            )
        if g["skipped"]:
            lines += [
                "",
                "Skipped (`--skip`): METIS partitioning of this graph takes minutes per budget "
                "(about 190 s for 200 parts, `samplers_speed.md`); `--skip none` measures it.",
            ]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from _common import (
        add_output_options,
        check_names,
        command_line,
        output_dir,
        provenance,
        publish,
    )

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument("--quick", action="store_true", help="a 2,000-node synthetic graph only")
    p.add_argument("--batches", type=int, default=None, help="S: batches per estimate")
    p.add_argument("--budgets", type=int, nargs="+", default=None, help="input nodes per batch")
    p.add_argument("--samplers", nargs="*", default=None, help="only these samplers")
    p.add_argument("--graphs", nargs="*", default=None, help="only these graphs")
    p.add_argument(
        "--skip",
        nargs="*",
        default=list(DEFAULT_SKIP),
        help="GRAPH/SAMPLER pairs not measured ('none': measure all; default: "
        + ", ".join(DEFAULT_SKIP)
        + ")",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of weights, features, batches")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    add_output_options(p)
    args = p.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    names = check_names(p, "--samplers", args.samplers or list(SAMPLERS), SAMPLERS)
    if args.graphs is not None:
        args.graphs = check_names(p, "--graphs", args.graphs, GRAPHS)
    args.skip = [] if args.skip in (["none"], []) else args.skip
    if args.batches is None:
        args.batches = 8 if args.quick else 100
    if args.batches < 2:
        p.error(f"--batches must be >= 2 (a variance needs two batches), got {args.batches}")
    if args.budgets is None:
        args.budgets = [128] if args.quick else [512, 2048]
    if any(b < 1 for b in args.budgets):
        p.error(f"--budgets must be >= 1, got {args.budgets}")
    specs = graph_specs(args)
    if not specs:
        p.error(f"--graphs: none of {args.graphs} is measured in this mode (--quick: synthetic-2k)")
    out_dir = output_dir(p, args)
    from _common import check_rows_kept

    # one session's measurements are not merged with another's: refuse to drop rows
    check_rows_kept(
        p,
        out_dir,
        STEM,
        [f"{s['name']}/{n}/{b}" for s in specs for n in names for b in args.budgets],
        lambda r: [  # "vrgcn (warm histories)": rows of the sampler vrgcn
            f"{g['graph']}/{x['sampler'].split(' ')[0]}/{x['budget']}"
            for g in r["graphs"]
            for x in g["rows"]
        ],
    )
    shown = list(argv if argv is not None else sys.argv[1:])
    result = {
        **provenance(command_line("samplers_variance.py", shown)),
        "seed": args.seed,
        "batches": args.batches,
        "budgets": args.budgets,
        "hidden": HIDDEN,
        "graphs": [],
    }
    for spec in specs:
        result["graphs"].append(run_graph(spec, args, names))
    publish(STEM, result, to_markdown(result), out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
