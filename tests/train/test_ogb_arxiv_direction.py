"""ogbn-arxiv is loaded directed, as OGB stores it (one edge per citation row), unlike OGB's
and PyG's arxiv examples, which symmetrise it; the loader and the sampler guide say so and
how to symmetrise it (``torch_geometric.transforms.ToUndirected``)."""

from __future__ import annotations

import gzip
from pathlib import Path

import torch
from torch_geometric.transforms import ToUndirected
from torch_geometric.utils import is_undirected

from spikegraph.datasets import load_dataset
from spikegraph.datasets.ogb import load_ogb

ROOT = Path(__file__).resolve().parents[2]


def test_arxiv_is_loaded_as_stored_and_to_undirected_symmetrises_it(tiny_arxiv_root, tmp_path):
    data, _ = load_dataset("ogbn-arxiv", root=tiny_arxiv_root, cache_dir=tmp_path)
    with gzip.open(tiny_arxiv_root / "ogbn_arxiv" / "raw" / "edge.csv.gz", "rt") as f:
        rows = [tuple(int(v) for v in line.split(",")) for line in f if line.strip()]
    assert sorted(zip(*data.edge_index.tolist())) == sorted(rows)  # one edge per row
    assert not is_undirected(data.edge_index, num_nodes=data.num_nodes)
    sym = ToUndirected()(data.clone())
    assert is_undirected(sym.edge_index, num_nodes=sym.num_nodes)
    both = set(rows) | {(b, a) for a, b in rows}
    assert set(zip(*sym.edge_index.tolist())) == both
    deg_in = torch.bincount(sym.edge_index[1], minlength=sym.num_nodes)
    deg = torch.bincount(torch.tensor([a for pair in both for a in pair]), minlength=sym.num_nodes)
    assert torch.equal(deg_in * 2, deg)


def test_the_direction_is_documented():
    doc = " ".join(load_ogb.__doc__.split())
    assert "directed" in doc and "ToUndirected" in doc and "ogbn-arxiv" in doc
    guide = " ".join((ROOT / "docs" / "samplers.md").read_text().split())
    assert "ogbn-arxiv" in guide and "ToUndirected()" in guide
