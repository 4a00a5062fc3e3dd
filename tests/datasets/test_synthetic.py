"""Synthetic stand-ins for OGB graphs (spikegraph.datasets.synthetic): OGB's layout read by
ogb's own loader offline, exact sizes, determinism, planted structure, provenance."""

import dataclasses
import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from spikegraph.cli import main
from spikegraph.datasets import dataset_provenance, load_ogb
from spikegraph.datasets.ogb import _safe_globals
from spikegraph.datasets.synthetic import (
    PRESETS,
    class_sizes,
    make_dataset,
    read_provenance,
    synthetic_spec,
)

nodeproppred = pytest.importorskip("ogb.nodeproppred")

SMALL = {"ogbn-arxiv": 0.01, "ogbn-products": 0.001}


#: Any attempt by ogb to reach the network fails the test.
pytestmark = pytest.mark.usefixtures("no_ogb_download")


def read(path):
    return pd.read_csv(path, header=None, compression="gzip").values


def digest(folder):
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("like", list(PRESETS))
def test_small_instance_is_read_by_ogbs_own_loader_offline(tmp_path, like):
    made = make_dataset(like, tmp_path / "data", seed=1, scale=SMALL[like], progress=False)
    spec = made.spec
    with _safe_globals():
        dataset = nodeproppred.PygNodePropPredDataset(like, root=str(tmp_path / "data"))
    data, split = dataset[0], dataset.get_idx_split()
    assert data.num_nodes == spec.num_nodes == round(PRESETS[like].num_nodes * SMALL[like])
    # arxiv's raw edges are directed; products' are undirected pairs that ogb doubles
    doubled = 1 if like == "ogbn-arxiv" else 2
    assert data.edge_index.size(1) == doubled * spec.num_edges
    assert spec.num_edges == round(PRESETS[like].num_edges * SMALL[like])
    assert data.x.shape == (spec.num_nodes, PRESETS[like].num_features)
    assert int(data.y.max()) < dataset.num_classes == PRESETS[like].num_classes
    sizes = {k: v.numel() for k, v in split.items()}
    assert sizes == {"train": spec.num_train, "valid": spec.num_valid, "test": spec.num_test}
    assert sizes["valid"] == round(PRESETS[like].num_valid * SMALL[like])
    everything = torch.cat(list(split.values())).sort().values
    assert torch.equal(everything, torch.arange(spec.num_nodes))  # a partition
    ei = data.edge_index
    assert not bool((ei[0] == ei[1]).any())  # no self-loops
    pairs = set(map(tuple, ei.t().tolist()))
    assert len(pairs) == ei.size(1)  # no repeated edge
    if like == "ogbn-arxiv":  # the time split, and citations from newer to older papers
        year = data.node_year.view(-1)
        assert int(year[split["train"]].max()) <= 2017
        assert bool((year[split["valid"]] == 2018).all())
        assert int(year[split["test"]].min()) >= 2019
        assert bool((year[ei[0]] >= year[ei[1]]).all())
        assert not pairs & {(b, a) for a, b in pairs}  # one direction per pair


def test_same_seed_gives_identical_files_and_another_seed_other_files(tmp_path):
    a = make_dataset("ogbn-arxiv", tmp_path / "a", seed=5, scale=0.005, progress=False)
    b = make_dataset("ogbn-arxiv", tmp_path / "b", seed=5, scale=0.005, progress=False)
    c = make_dataset("ogbn-arxiv", tmp_path / "c", seed=6, scale=0.005, progress=False)
    assert digest(a.folder) == digest(b.folder)
    assert len(digest(a.folder)) == 11  # 6 raw, 3 split files, RELEASE, SYNTHETIC
    differ = {k for k, v in digest(a.folder).items() if digest(c.folder)[k] != v}
    assert {"raw/edge.csv.gz", "raw/node-feat.csv.gz", "raw/node-label.csv.gz"} <= differ


def test_planted_structure_homophily_and_skewed_degrees(tmp_path):
    made = make_dataset("ogbn-products", tmp_path, seed=0, scale=0.002, progress=False)
    raw = made.folder / "raw"
    edge, y = read(raw / "edge.csv.gz"), read(raw / "node-label.csv.gz").ravel()
    homophily = float(np.mean(y[edge[:, 0]] == y[edge[:, 1]]))
    m = made.spec.num_edges
    assert homophily == pytest.approx(round(0.8 * m) / m, abs=1e-12)
    assert made.stats["edge_homophily"] == pytest.approx(homophily)
    degree = np.bincount(edge.ravel(), minlength=made.spec.num_nodes)
    assert degree.max() > 10 * np.median(degree)  # heavy tail
    assert made.stats["max_degree"] == degree.max()
    # class-dependent features: class means lie further apart than the noise in them
    x = read(raw / "node-feat.csv.gz")
    big = np.bincount(y).argsort()[-2:]
    gap = np.linalg.norm(x[y == big[0]].mean(0) - x[y == big[1]].mean(0))
    assert gap > 5 * np.sqrt(x.shape[1] / (y == big[0]).sum())


def test_class_sizes_are_exact_zipf_and_positive():
    sizes = class_sizes(1000, 40, 0.9)
    assert sizes.sum() == 1000 and sizes.min() >= 1
    assert (np.diff(sizes) <= 0).all()


def test_gcn_beats_mlp_on_a_small_instance(tmp_path):
    from torch_geometric.nn import GCNConv
    from torch_geometric.utils import to_undirected

    make_dataset("ogbn-arxiv", tmp_path / "data", seed=0, scale=0.01, progress=False)
    data, num_classes = load_ogb("ogbn-arxiv", root=tmp_path / "data", cache_dir=tmp_path / "c")
    edge_index = to_undirected(data.edge_index, num_nodes=data.num_nodes)

    def test_accuracy(graph: bool) -> float:
        torch.manual_seed(0)
        make = (lambda i, o: GCNConv(i, o)) if graph else torch.nn.Linear
        layers = torch.nn.ModuleList([make(data.num_features, 32), make(32, num_classes)])
        optimizer = torch.optim.Adam(layers.parameters(), lr=0.02, weight_decay=5e-4)

        def forward():
            h = data.x
            for i, layer in enumerate(layers):
                h = layer(h, edge_index) if graph else layer(h)
                h = F.relu(h) if i == 0 else h
            return h

        for _ in range(40):
            optimizer.zero_grad()
            loss = F.cross_entropy(forward()[data.train_mask], data.y[data.train_mask])
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            pred = forward().argmax(1)
        return float((pred[data.test_mask] == data.y[data.test_mask]).float().mean())

    mlp, gcn = test_accuracy(False), test_accuracy(True)
    assert mlp > 3 / num_classes  # the features carry the label
    assert gcn > mlp + 0.1  # and the edges carry more


def test_provenance_travels_with_the_data_into_the_training_record(tmp_path, capsys):
    make_dataset("ogbn-arxiv", tmp_path / "data", seed=4, scale=0.01, progress=False)
    provenance = dataset_provenance("ogbn-arxiv", tmp_path / "data")
    assert provenance["synthetic"] is True and provenance["seed"] == 4
    assert provenance["label"] == "arxiv-like (synthetic, seed 4, scale 0.01)"
    on_disk = json.loads((tmp_path / "data" / "ogbn_arxiv" / "SYNTHETIC.json").read_text())
    assert {k: v for k, v in provenance.items() if k != "label"} == {
        k: v for k, v in on_disk.items() if k != "label"
    }
    record = tmp_path / "record.json"
    code = main(
        [
            "train", "--dataset", "ogbn-arxiv", "--root", str(tmp_path / "data"), "--model",
            "gcn", "--epochs", "2", "--no-progress", "--json", str(record),
        ]
    )  # fmt: skip
    assert code == 0
    out = json.loads(record.read_text())
    assert out["dataset"] == out["runs"][0]["dataset"] == provenance["label"]
    assert out["data_provenance"]["seed"] == 4
    assert out["runs"][0]["data_provenance"]["generator_version"] == "1"
    assert "arxiv-like (synthetic, seed 4" in capsys.readouterr().out


def test_real_layout_without_marker_has_no_provenance_and_mixed_folder_is_refused(tmp_path):
    made = make_dataset("ogbn-arxiv", tmp_path, seed=0, scale=0.005, progress=False)
    assert read_provenance(made.folder)["like"] == "ogbn-arxiv"
    (made.folder / "RELEASE_v1.txt").write_text("OGB release 1\n")
    with pytest.raises(ValueError, match=r"SYNTHETIC\.json but its RELEASE_v1\.txt"):
        read_provenance(made.folder)
    (made.folder / "SYNTHETIC.json").unlink()
    assert read_provenance(made.folder) is None
    (made.folder / "RELEASE_v1.txt").write_text(
        "SYNTHETIC DATA generated by spikegraph.datasets.synthetic; not OGB's data.\n{broken"
    )
    with pytest.raises(ValueError, match="provenance cannot be read"):
        read_provenance(made.folder)


def test_force_replaces_the_dataset_and_leaves_no_temporary_folder(tmp_path):
    make_dataset("ogbn-arxiv", tmp_path, seed=0, scale=0.005, progress=False)
    (tmp_path / "keep.txt").write_text("other file")
    with pytest.raises(FileExistsError, match="exists and is not empty"):
        make_dataset("ogbn-arxiv", tmp_path, seed=1, scale=0.005, progress=False)
    made = make_dataset("ogbn-arxiv", tmp_path, seed=1, scale=0.005, force=True, progress=False)
    assert read_provenance(made.folder)["seed"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt", "ogbn_arxiv"]
    assert gzip.decompress((made.folder / "raw" / "num-node-list.csv.gz").read_bytes()) == (
        f"{made.spec.num_nodes}\n".encode()
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"like": "ogbn-mag"}, ValueError, "'ogbn-mag'; expected one of"),
        ({"seed": -1}, ValueError, "'seed' must be an int >= 0, got -1"),
        ({"seed": 1.5}, ValueError, "'seed' must be an int >= 0, got 1.5"),
        ({"seed": True}, ValueError, "'seed' must be an int >= 0, got True"),
        ({"scale": 0}, ValueError, r"'scale' must be a number in \(0, 1\], got 0"),
        ({"scale": 1.5}, ValueError, r"'scale' must be a number in \(0, 1\], got 1.5"),
        ({"scale": 1e-6}, ValueError, "too few for 40 classes"),
        ({"homophily": 1.5}, ValueError, "homophily must be in"),
        ({"homophily": float("nan")}, ValueError, r"homophily must be in \[0, 1\], got nan"),
        ({"secondary_share": 1.5}, ValueError, r"secondary_share must be in \[0, 1\], got 1.5"),
        ({"secondary_share": -0.5}, ValueError, r"secondary_share must be in \[0, 1\]"),
        ({"group_size": 0}, ValueError, "group_size must be an int >= 1, got 0"),
        ({"group_size": 2.5}, ValueError, "group_size must be an int >= 1, got 2.5"),
        ({"max_degree": 0}, ValueError, "max_degree must be an int >= 1, got 0"),
        ({"class_skew": float("nan")}, ValueError, "class_skew must be a finite number >= 0"),
        (
            {"homophily_concentration": -1},
            ValueError,
            "homophily_concentration must be a finite number > 0, got -1",
        ),
        (
            {"degree_exponent": float("nan")},
            ValueError,
            "degree_exponent must be a finite number > 1",
        ),
        ({"degree_exponent": 1}, ValueError, "degree_exponent must be a finite number > 1, got 1"),
        ({"feature_noise": -0.1}, ValueError, "feature_noise must be a finite number >= 0"),
        ({"colour": 1}, ValueError, r"Unknown synthetic_spec options \['colour'\]"),
    ],
)
def test_bad_arguments_are_refused_before_writing(tmp_path, kwargs, error, match):
    args = {"like": "ogbn-arxiv", "seed": 0, "scale": 0.005, **kwargs}
    with pytest.raises(error, match=match):
        make_dataset(args.pop("like"), tmp_path / "out", progress=False, **args)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("like", "declared"), [("ogbn-arxiv", 40), ("ogbn-products", 47)])
@pytest.mark.parametrize("asked", [5, 50])
def test_a_class_count_other_than_ogbs_is_refused_before_writing(tmp_path, like, declared, asked):
    # num_classes=5 was written, then loaded as 40 classes (ogb's master.csv) with 35 never
    # used; num_classes=50 was written, then refused on loading (a label outside the 40).
    with pytest.raises(ValueError, match=rf"num_classes={asked} .*{like} has {declared}"):
        make_dataset(like, tmp_path / "out", scale=0.01, progress=False, num_classes=asked)
    assert not (tmp_path / "out").exists()
    master = pd.read_csv(Path(nodeproppred.__file__).parent / "master.csv", index_col=0)
    assert int(master[like]["num classes"]) == declared == PRESETS[like].num_classes


def test_the_class_count_ogb_declares_is_accepted_and_loaded_as_written(tmp_path):
    made = make_dataset("ogbn-arxiv", tmp_path, scale=0.01, progress=False, num_classes=40)
    assert made.spec == synthetic_spec("ogbn-arxiv", 0.01)
    assert "custom recipe" not in made.label
    data, classes = load_ogb("ogbn-arxiv", root=tmp_path, cache_dir=tmp_path / "cache")
    assert classes == 40 == int(data.y.max()) + 1


def test_label_says_when_the_recipe_is_not_the_presets():
    from spikegraph.datasets.synthetic import dataset_label

    def provenance(**overrides):
        spec = synthetic_spec("ogbn-arxiv", 0.002, **overrides)
        return {"like": "ogbn-arxiv", "seed": 0, "scale": 0.002, "spec": dataclasses.asdict(spec)}

    assert dataset_label(provenance()) == "arxiv-like (synthetic, seed 0, scale 0.002)"
    assert dataset_label(provenance(homophily=0.5)) == (
        "arxiv-like (synthetic, seed 0, scale 0.002, custom recipe)"
    )


def test_spec_scales_sizes_and_keeps_the_recipe():
    spec = synthetic_spec("OGBN-Products", 0.01)
    assert spec.like == "ogbn-products" and spec.num_features == 100
    assert spec.num_train + spec.num_valid + spec.num_test == spec.num_nodes == 24_490
    assert spec.num_valid == 393 and spec.num_test == 22_131
    assert synthetic_spec("ogbn-arxiv") == PRESETS["ogbn-arxiv"]


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--like", "ogbn-mag"], "'ogbn-mag'; expected one of"),
        (["--like", "ogbn-arxiv", "--seed", "-3"], "'seed' must be an int >= 0, got -3"),
        (["--like", "ogbn-arxiv", "--seed", "x"], "invalid int value: 'x'"),
        (["--like", "ogbn-arxiv", "--scale", "2"], "'scale' must be a number in"),
    ],
)
def test_cli_refuses_bad_values_in_one_line(tmp_path, capsys, argv, match):
    code = main(["make-dataset", "--out", str(tmp_path / "out"), "--scale", "0.005", *argv])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("spikegraph: error: "), err
    assert __import__("re").search(match, err[0]), err


def test_cli_refuses_a_non_empty_out_without_force_and_writes_with_it(tmp_path, capsys):
    (tmp_path / "other.txt").write_text("x")
    argv = ["make-dataset", "--like", "ogbn-arxiv", "--out", str(tmp_path), "--scale", "0.005"]
    assert main([*argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"--out {tmp_path} exists and is not empty" in err and "--force" in err
    assert main([*argv, "--no-progress", "--force", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "wrote arxiv-like (synthetic, seed 2, scale 0.005)" in out
    assert f"--dataset ogbn-arxiv --root {tmp_path}" in out
