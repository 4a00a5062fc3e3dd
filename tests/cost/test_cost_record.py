"""The record of ``spikegraph cost --json`` says what produced it, as ``spikegraph train``'s
does: command, seed, split, versions and commit, data fingerprint, effective options
(audit of the cost command, D2)."""

import json
from pathlib import Path

from spikegraph.cli import main
from spikegraph.experiments.node_classification import effective_model_options, versions
from spikegraph.models import build_model


def _record(data_root, tmp_path, monkeypatch, name, *options):
    monkeypatch.setenv("SPIKEGRAPH_DATA", str(data_root))
    path = tmp_path / f"{name}.json"
    argv = ["cost", "--dataset", "Cora", "--model", "sgcn", "--vs", "gcn", "--epochs", "0"]
    argv += ["--no-progress", *options, "--json", str(path)]
    assert main(argv) == 0
    return argv, json.loads(Path(path).read_text())


def test_two_runs_records_say_what_produced_them(data_root, tmp_path, monkeypatch, capsys):
    argv3, full = _record(data_root, tmp_path, monkeypatch, "a", "--seed", "3", "--split", "full")
    argv0, public = _record(data_root, tmp_path, monkeypatch, "b")
    capsys.readouterr()
    assert (full["seed"], full["split"]) == (3, "full")
    assert (public["seed"], public["split"]) == (0, "public")
    assert full["command"] == ["spikegraph", *argv3]
    assert public["command"] == ["spikegraph", *argv0]
    assert full["versions"] == versions() and "commit" in full
    # the full split trains on other nodes: other masks, another fingerprint
    assert len(full["data_fingerprint"]) == 64
    assert full["data_fingerprint"] != public["data_fingerprint"]
    for record in (full, public):
        first, second = record["first"], record["second"]
        assert first["seed"] == record["seed"] and second["seed"] == record["seed"]
        # the options the model was built with, defaults included, as train's record has
        for name, run in (("sgcn", first), ("gcn", second)):
            built = build_model(name, 1433, 7)
            assert run["effective_model_options"] == effective_model_options(name, {}, built)
        assert first["effective_model_options"]["T"] > 0
        # untrained: no training ran, and the record says so rather than listing defaults
        assert first["effective_train_options"] is None and first["train_options"]["epochs"] == 0


def test_trained_records_name_every_train_option(tmp_path):
    from spikegraph.experiments.cost import model_cost
    from spikegraph.train import TrainConfig

    from .conftest import node_data

    run = model_cost("gcn", node_data(), 2, epochs=2, seed=5)
    d = json.loads(json.dumps(run.to_dict()))
    fields = set(TrainConfig.__dataclass_fields__)
    assert set(d["effective_train_options"]) == fields
    assert d["effective_train_options"]["epochs"] == 2 and d["effective_train_options"]["seed"] == 5
    assert d["seed"] == 5
    assert d["effective_model_options"]["hidden_channels"] > 0
