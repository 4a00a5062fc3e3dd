"""speed.py's sections of every neuron setting: the mini-batch rows come from
minibatch_speed.py's own measuring function, and the roofline compares propagation with the
copy, a CSR SpMM and the gather of the rows the edges read."""

from __future__ import annotations

import torch

from tests.benchmarks.conftest import load


def test_minibatch_rows_are_minibatch_speeds_measurement_and_fill_the_section(
    data_root, monkeypatch
):
    speed, minibatch_speed = load("speed"), load("minibatch_speed")
    calls = []
    measure = minibatch_speed.bench_dataset

    def spy(*args, **kwargs):
        calls.append(args)
        return measure(*args, **kwargs)

    monkeypatch.setattr(minibatch_speed, "bench_dataset", spy)
    row = speed.minibatch_rows(str(data_root), hidden=8, T=2, rounds=1, quick=True)
    assert [c[0] for c in calls] == ["Cora"]
    text = "\n".join(speed.minibatch_section({"minibatch": row}))
    assert "## Every neuron setting, mini-batch (Cora, split=full)" in text
    for key in speed.settings():
        for mode in minibatch_speed.MODES:
            ratio = row["over_gcn_same_mode"][f"{key}/{mode}"]
            assert f"| {key} | {mode} | " in text and f"{ratio:.2f}x" in text
    for mode in minibatch_speed.PYG_MODES:
        assert f"| PyG gcn | {mode} | " in text
    assert "Bar (every setting in `blocks` mode" in text
    assert speed.minibatch_section({"rows": []}) == []


def test_the_full_run_takes_pubmeds_full_split_and_no_minibatch_skips_it(monkeypatch):
    speed, minibatch_speed = load("speed"), load("minibatch_speed")
    seen = []
    monkeypatch.setattr(minibatch_speed, "bench_dataset", lambda *a: seen.append(a) or {})
    speed.minibatch_rows(None, 64, 8, 5)
    name, _, hidden, T, rounds, batch_size, fanout, max_batches, modes = seen[0]
    assert (name, hidden, T, rounds, batch_size, fanout, max_batches) == (
        "PubMed",
        64,
        8,
        5,
        512,
        [10, 10],
        None,
    )
    assert modes == list(minibatch_speed.MODES)
    monkeypatch.setattr(speed, "bench_dataset", lambda *a: {"dataset": "Cora", "rows": []})
    monkeypatch.setattr(speed, "to_markdown", lambda record: str(sorted(record)))
    record = speed.main(["--quick", "--no-minibatch"])
    assert "minibatch" not in record


def test_roofline_measures_propagation_csr_gather_and_copy_on_one_graph():
    speed = load("speed")
    g = torch.Generator().manual_seed(0)
    n = 50
    ei = torch.randint(0, n, (2, 200), generator=g)
    data = type(
        "Graph", (), {"num_features": 4, "num_nodes": n, "edge_index": ei, "x": torch.zeros(n, 4)}
    )()
    r = speed.propagation_roofline(data, hidden=8, T=3, reps=2)
    for label, width in (("static", 8), ("stacked", 24)):
        m = r[label]
        assert m["width"] == width
        for key in ("propagate", "csr", "gather", "copy"):
            assert m[f"{key}_seconds"] > 0 and m[f"{key}_gbps"] > 0
        assert m["propagate_over_gather"] == m["propagate_seconds"] / m["gather_seconds"]
    record = {"rows": [{"dataset": "G", "roofline": r}]}
    text = "\n".join(speed.roofline_section(record))
    assert "propagate / gather" in text and "What bounds it" in text


def test_the_csr_operator_is_the_propagation_of_the_layer():
    """The roofline's CSR row computes what the layer's propagation computes."""
    from spikegraph.nn import SpikingGCNConv

    speed = load("speed")
    g = torch.Generator().manual_seed(1)
    n = 30
    ei = torch.randint(0, n, (2, 90), generator=g)
    conv = SpikingGCNConv(4, 6, T=2, cached=True)
    gei, gew = conv._normalized_graph(ei, None, n, None, torch.float32, None)
    x = torch.rand(n, 6, generator=g)
    with torch.no_grad():
        want = conv.propagate(gei, x=x, edge_weight=gew)
    got = torch.sparse.mm(speed._csr_operator(gei, gew, n), x)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)


def test_minibatch_speed_runs_an_ogb_graph_on_its_official_split(tmp_path, monkeypatch):
    from spikegraph.datasets.synthetic import make_dataset

    minibatch_speed = load("minibatch_speed")
    monkeypatch.setenv("SPIKEGRAPH_CACHE", str(tmp_path / "cache"))
    made = make_dataset("ogbn-arxiv", tmp_path / "data", seed=0, scale=0.003, progress=False)
    monkeypatch.setattr(minibatch_speed, "settings", lambda: {"tuned": {}})
    row = minibatch_speed.bench_dataset(
        "ogbn-arxiv", str(tmp_path / "data"), 8, 2, 1, 64, [2, 2], 2, ["blocks"]
    )
    assert minibatch_speed.split_of("ogbn-arxiv") == "public"
    assert minibatch_speed.split_of("PubMed") == "full"
    assert (row["split"], row["label"], row["num_batches"]) == ("public", made.label, 2)
    record = {"provenance": minibatch_speed.provenance("test"), "hidden": 8, "T": 2, "rounds": 1}
    text = minibatch_speed.to_markdown({**record, "rows": [row]})
    assert f"## {made.label}, split=public" in text
