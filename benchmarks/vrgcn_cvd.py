r"""VR-GCN's control variates under dropout on the real graphs: how much of one layer's
estimate is noise, with the plain control variate (CV) and the control variate for dropout
(CVD, Chen, Zhu & Song, ICML 2018, Sec. 5.1).

For each dataset, PyG's 2-layer ``GCN`` with random weights (a fixed seed) gives every
node's hidden activation :math:`\mu = \mathrm{ReLU}(\hat A X W_0 + b_0)` (no dropout). In
training, layer 1's input is :math:`h = \mathrm{dropout}(\mu)` (inverted dropout, rate
``p``), a fresh draw per batch. Layer 1's aggregation :math:`(\hat A h)_v` is estimated from
``D`` sampled neighbours per node (``VRGCNSampler(num_neighbors=[D])``, every node a
target) by:

- **CV, exact histories**: the plain control variate with histories :math:`\bar h = \mu`
  (its best case: no history of a dropped-out input is that close);
- **CV, written histories**: the plain control variate with histories that are another
  dropout draw of :math:`\mu`, what training writes into them when the weights have
  settled (a fresh draw per batch);
- **CVD**: the control variate for dropout with exact histories :math:`\bar\mu = \mu`
  (``dropout_variate=True``; what its histories approach when the weights settle).

Over ``S`` batches, each is compared with :math:`\hat A \mu`, the aggregation's mean over
the masks: ``variance`` is :math:`\sum_v \sigma^2_v / \sum_v \|(\hat A\mu)_v\|^2`, the
estimate's variance over the sampling and the masks, relative to the exact values, and
``bias`` is :math:`\|\bar e\| / \|\hat A\mu\|` with its standard error. Next to each, its
closed form (with :math:`s^2_u = \mu_u^2 p / (1 - p)`, the dropout variance, and
:math:`R_v = \deg v / D` where a node has more than ``D`` neighbours, else 1):

- exact aggregation of :math:`h` (the floor, and CVD's):
  :math:`\sum_u \hat A_{vu}^2 s^2_u`;
- CV, exact histories: :math:`\hat A_{vv}^2 s^2_v + R_v \sum_{u \ne v} \hat A_{vu}^2 s^2_u`;
- CV, written histories: :math:`\hat A_{vv}^2 s^2_v + (2R_v - 1) \sum_{u \ne v}
  \hat A_{vu}^2 s^2_u`.

No training and no labels: the numbers describe the estimators, not accuracy.

Usage::

    SPIKEGRAPH_DATA=../shared/datasets python benchmarks/vrgcn_cvd.py
    python benchmarks/vrgcn_cvd.py --quick      # smoke run (Cora, 5 batches), no files
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import Tensor

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

STEM = "vrgcn_cvd"
DATASETS = ("Cora", "CiteSeer", "PubMed")
ESTIMATORS = ("cv-exact", "cv-written", "cvd")
LABELS = {
    "cv-exact": "CV, exact histories",
    "cv-written": "CV, written histories",
    "cvd": "CVD",
}


def hidden_activations(data, hidden: int, seed: int) -> Tensor:
    """``μ``: layer 0's output of PyG's GCN with random weights from ``seed``, no dropout."""
    from torch_geometric.nn.models import GCN

    torch.manual_seed(seed)
    model = GCN(data.num_features, hidden, 2, out_channels=2).eval()
    with torch.no_grad():
        return torch.relu(model.convs[0](data.x, data.edge_index))


def closed_forms(data, mu: Tensor, p: float, d: int) -> dict[str, Tensor]:
    """Per-entry variances ``[N, F]`` of the exact aggregation of ``dropout(μ)`` and of the
    three estimators (see the module docstring)."""
    from torch_geometric.nn.conv.gcn_conv import gcn_norm
    from torch_geometric.utils import scatter

    n = data.num_nodes
    ei, w = gcn_norm(data.edge_index, None, n, add_self_loops=True)
    src, dst = ei
    loop = src == dst
    s2 = mu.pow(2) * (p / (1 - p))
    self_part = scatter(w[loop].pow(2).unsqueeze(1) * s2[src[loop]], dst[loop], 0, dim_size=n)
    nbr_part = scatter(w[~loop].pow(2).unsqueeze(1) * s2[src[~loop]], dst[~loop], 0, dim_size=n)
    deg = torch.bincount(dst[~loop], minlength=n).to(mu.dtype)
    r = torch.where(deg > d, deg / d, torch.ones_like(deg)).unsqueeze(1)
    exact = self_part + nbr_part
    return {
        "exact": exact,
        "cv-exact": self_part + r * nbr_part,
        "cv-written": self_part + (2 * r - 1) * nbr_part,
        "cvd": exact,  # CVD's variance is the exact aggregation's
    }


def exact_aggregation(data, h: Tensor) -> Tensor:
    """``Â h`` over the whole graph."""
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

    from spikegraph.samplers.history import aggregate

    ei, w = gcn_norm(data.edge_index, None, data.num_nodes, add_self_loops=True)
    return aggregate(h, ei, w, data.num_nodes)


def dropout(mu: Tensor, p: float, gen: torch.Generator) -> Tensor:
    return mu * (torch.rand(mu.shape, generator=gen) >= p).to(mu.dtype) / (1 - p)


def estimate(sampler, estimator: str, mu: Tensor, p: float, gen: torch.Generator) -> Tensor:
    """One batch's estimate of ``(Â h)`` at every node, in node order."""
    from spikegraph.samplers.history import aggregate, control_variate_input, noise_aggregate

    n = mu.size(0)
    if estimator == "cv-written":
        sampler.history.fill(0, dropout(mu, p, gen), static=True)  # another draw
    batch = sampler.sample(torch.arange(n))
    block, ids = batch.blocks[0], batch.layer_n_id[0]
    h = dropout(mu, p, gen)
    x = mu if estimator == "cvd" else h
    h_aug, ei, w, size = control_variate_input(
        x[ids], block.edge_index, block.edge_weight, block.size, block.history
    )
    out = aggregate(h_aug, ei, w, size[1])
    if estimator == "cvd":
        out = out + noise_aggregate(h[ids], mu[ids], block.edge_index, block.history)
    return out  # targets are every node, in order (batch.target = arange(n))


def measure(data, args: argparse.Namespace) -> dict:
    """The three estimators on ``data``: empirical and closed-form variance, bias."""
    from spikegraph.samplers import VRGCNSampler

    mu = hidden_activations(data, args.hidden, args.seed)
    exact = exact_aggregation(data, mu)
    scale = float(exact.pow(2).sum())
    forms = closed_forms(data, mu, args.p, args.neighbors)
    rows = []
    for estimator in ESTIMATORS:
        sampler = VRGCNSampler(
            data,
            [args.neighbors],
            input_history=False,
            dropout_variate=estimator == "cvd",
            seed=args.seed,
        )
        sampler.history.fill(0, mu, static=True)
        gen = torch.Generator().manual_seed(args.seed + 1)
        total = torch.zeros_like(mu, dtype=torch.float64)
        squares = torch.zeros_like(mu, dtype=torch.float64)
        for _ in range(args.batches):
            e = (estimate(sampler, estimator, mu, args.p, gen) - exact).double()
            total += e
            squares += e * e
        s = args.batches
        mean = total / s
        var = (squares - s * mean * mean) / (s - 1)
        rows.append(
            {
                "estimator": estimator,
                "variance": float(var.sum()) / scale,
                "closed_form": float(forms[estimator].sum()) / scale,
                "bias": float(mean.norm()) / scale**0.5,
                "bias_se": float((var.sum() / s).sqrt()) / scale**0.5,
            }
        )
    floor = float(forms["exact"].sum()) / scale
    for row in rows:
        row["over_exact"] = row["closed_form"] / floor
    num_edges = int(data.edge_index.size(1))
    return {
        "nodes": data.num_nodes,
        "mean_degree": num_edges / data.num_nodes,
        "exact_variance": floor,
        "rows": rows,
    }


#: The settings every row of a run is measured with (the record holds them once).
SETTINGS = ("seed", "hidden", "p", "neighbors", "batches")


def planned_rows(args: argparse.Namespace) -> dict[str, dict]:
    """The rows a run writes (one per dataset), each with the settings it is measured with."""
    return {name: {k: getattr(args, k) for k in SETTINGS} for name in args.datasets}


def rows_in(record: dict) -> dict[str, dict]:
    """The rows of a results file, as :func:`planned_rows` gives them."""
    return {name: {k: record[k] for k in SETTINGS} for name in record["datasets"]}


def to_markdown(record: dict) -> str:
    lines = [
        "# VR-GCN's control variates under dropout: variance of one layer's estimate",
        "",
        provenance_md(record["provenance"]),
        f"PyG's 2-layer GCN, random weights (seed {record['seed']}), hidden width "
        f"{record['hidden']}; layer 1's aggregation of `dropout(μ)` (p = {record['p']}) "
        f"estimated from {record['neighbors']} sampled neighbours per node, every node a "
        f"target, over {record['batches']} batches (a fresh sample and dropout draw each). "
        "Variance: summed over nodes and features, relative to the exact values' squared "
        "norm; closed form beside it, and its ratio to the exact aggregation's variance "
        "under dropout (CVD's). Bias: relative norm of the mean error, with its standard "
        "error. See the script's docstring for the estimators and the closed forms.",
        "",
        "| dataset | mean degree | estimator | variance | closed form | x exact | bias (se) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, ds in record["datasets"].items():
        for row in ds["rows"]:
            lines.append(
                f"| {name} | {ds['mean_degree']:.1f} | {LABELS[row['estimator']]} | "
                f"{row['variance']:.4f} | {row['closed_form']:.4f} | "
                f"{row['over_exact']:.2f} | {row['bias']:.4f} ({row['bias_se']:.4f}) |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS))
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument("--neighbors", type=int, default=2, help="D, the paper's 2 by default")
    p.add_argument("--p", type=float, default=0.5, help="dropout rate")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--batches", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="Cora, 5 batches; writes nothing")
    add_output_options(p)
    args = p.parse_args(argv)
    args.datasets = check_names(p, "--datasets", args.datasets, DATASETS)
    if args.quick:
        args.datasets, args.batches = ["Cora"], 5
    if args.batches < 2:
        p.error(f"--batches must be >= 2 (a variance), got {args.batches}")
    if args.neighbors < 1:
        p.error(f"--neighbors must be >= 1, got {args.neighbors}")
    if not 0.0 < args.p < 1.0:
        p.error(f"--p must be in (0, 1), got {args.p}")
    if args.hidden < 1:
        p.error(f"--hidden must be >= 1, got {args.hidden}")
    out = output_dir(p, args)
    check_rows_kept(p, out, STEM, planned_rows(args), rows_in)
    from spikegraph.datasets import load_dataset

    record = {
        "provenance": provenance(
            command_line("vrgcn_cvd.py", sys.argv[1:] if argv is None else argv)
        ),
        "seed": args.seed,
        "hidden": args.hidden,
        "p": args.p,
        "neighbors": args.neighbors,
        "batches": args.batches,
        "datasets": {},
    }
    for name in args.datasets:
        data, _ = load_dataset(name, root=args.root)
        record["datasets"][name] = measure(data, args)
        print(f"{name}: done", flush=True)
    publish(STEM, record, to_markdown(record), out)
    return record


if __name__ == "__main__":
    main()
