"""Shared fixtures: tiny hand-made graphs and the data root.

Real datasets are found through ``SPIKEGRAPH_DATA`` (CI points it at ``../shared/datasets``);
tests that need them ask for the ``data_root`` fixture and are skipped, with the reason, when
it is not set or not a folder. Nothing is downloaded from the internet. Every processed file
goes to a temporary cache: the session never writes into the data folder or the user's cache.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Data

# Every test works on tiny tensors, where one intra-op thread is faster than several and
# immune to oversubscription on a shared 2-core CI machine (a 3x slower suite without it).
torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def _temporary_cache(tmp_path_factory):
    """Point ``SPIKEGRAPH_CACHE`` at a session folder so no test writes to ``~/.cache``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPIKEGRAPH_CACHE", str(tmp_path_factory.mktemp("sgcache")))
        yield


@pytest.fixture(scope="session", autouse=True)
def _no_internet_downloads():
    """Point dataset downloads at a local port nothing listens on, so that no test reaches
    the internet: a test that needs real data and does not ask for :func:`data_root` fails
    with the offline error instead. Tests of the download path serve files themselves."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPIKEGRAPH_PLANETOID_URL", "http://127.0.0.1:9/no-downloads-in-tests")
        mp.setenv("SPIKEGRAPH_OGB_URL", "http://127.0.0.1:9/no-downloads-in-tests")
        yield


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The data folder from ``SPIKEGRAPH_DATA`` (skip when unset or absent)."""
    value = os.environ.get("SPIKEGRAPH_DATA")
    if not value:
        pytest.skip("SPIKEGRAPH_DATA is not set: no real datasets to load")
    root = Path(value).expanduser().resolve()  # tests symlink into it from temporary folders
    if not root.is_dir():
        pytest.skip(f"SPIKEGRAPH_DATA={value} is not a folder")
    return root


@pytest.fixture(scope="session")
def cora_raw(data_root: Path) -> Path:
    """The folder holding Cora's eight raw Planetoid files."""
    for cand in (data_root / "planetoid" / "Cora" / "raw", data_root / "Cora" / "raw"):
        if (cand / "ind.cora.x").is_file():
            return cand
    pytest.skip(f"no Cora raw files under {data_root}")


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """One processed-files cache shared by the tests that only read a dataset."""
    return tmp_path_factory.mktemp("processed")


def undirected_edges() -> torch.Tensor:
    """A 6-node undirected graph: a 4-cycle 0-1-2-3 with a chord 0-2 and a tail 3-4-5.

    Both directions of every edge, no self-loops, no duplicates.
    """
    pairs = [(0, 1), (1, 2), (2, 3), (3, 0), (0, 2), (3, 4), (4, 5)]
    src = [a for a, b in pairs] + [b for a, b in pairs]
    dst = [b for a, b in pairs] + [a for a, b in pairs]
    return torch.tensor([src, dst], dtype=torch.long)


def directed_edges() -> torch.Tensor:
    """A 6-node directed graph (no reverse of most edges, no self-loops, no duplicates), so
    that a transposed adjacency gives a different answer."""
    return torch.tensor(
        [[0, 0, 1, 2, 2, 3, 4, 5, 5, 1], [1, 2, 2, 3, 0, 4, 5, 0, 3, 4]], dtype=torch.long
    )


@pytest.fixture
def edge_index() -> torch.Tensor:
    return undirected_edges()


@pytest.fixture
def directed_edge_index() -> torch.Tensor:
    return directed_edges()


def synthetic_node_data(
    num_nodes: int = 40, num_features: int = 8, num_classes: int = 2, seed: int = 0
) -> Data:
    """A small two-community graph whose features carry the class, with three masks.

    Nodes of class ``c`` link mostly inside their class; features are a class-dependent
    binary pattern with noise. Train/val/test are disjoint and cover every node.
    """
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(num_nodes) % num_classes
    same = y.view(-1, 1) == y.view(1, -1)
    prob = torch.where(same, torch.tensor(0.3), torch.tensor(0.03))
    adj = torch.rand(num_nodes, num_nodes, generator=gen) < prob
    adj = torch.triu(adj, diagonal=1)
    adj = adj | adj.t()
    edge_index = adj.nonzero().t().contiguous()
    centers = (torch.rand(num_classes, num_features, generator=gen) < 0.5).float()
    flip = (torch.rand(num_nodes, num_features, generator=gen) < 0.15).float()
    x = (centers[y] + flip) % 2
    perm = torch.randperm(num_nodes, generator=gen)
    n_train, n_val = num_nodes // 2, num_nodes // 4
    masks = {}
    for name, idx in (
        ("train_mask", perm[:n_train]),
        ("val_mask", perm[n_train : n_train + n_val]),
        ("test_mask", perm[n_train + n_val :]),
    ):
        m = torch.zeros(num_nodes, dtype=torch.bool)
        m[idx] = True
        masks[name] = m
    return Data(x=x, edge_index=edge_index, y=y, **masks)


@pytest.fixture
def node_data() -> Data:
    return synthetic_node_data()


@pytest.fixture
def make_node_data():
    """The factory :func:`synthetic_node_data`, for tests that need other sizes or seeds."""
    return synthetic_node_data


@pytest.fixture(scope="session")
def tiny_arxiv_root(tmp_path_factory) -> Path:
    """A data root holding a 508-node synthetic stand-in for ogbn-arxiv
    (:func:`spikegraph.datasets.synthetic.make_dataset`, scale 0.003): a graph every test
    can load by name (``load_dataset("ogbn-arxiv", root=...)``), in any process, without
    real data."""
    from spikegraph.datasets.synthetic import make_dataset

    root = tmp_path_factory.mktemp("tiny-arxiv")
    make_dataset("ogbn-arxiv", root, seed=0, scale=0.003, progress=False)
    return root
