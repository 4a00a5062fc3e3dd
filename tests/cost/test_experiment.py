"""Training-then-counting records, tuned configs and the ``spikegraph cost`` command."""

import json
from pathlib import Path

import pytest

from spikegraph.cli import main
from spikegraph.cost import energy_of
from spikegraph.experiments.cost import load_tuned_config, model_cost
from spikegraph.models import build_model

from .conftest import node_data

CONFIG = """
[sgcn.model]
T = 8
hidden_channels = 64

[sgcn.train]
epochs = 200
lr = 0.01

[sgcn.Cora]
model = { T = 4 }
train = { epochs = 3 }

[gcn.PubMed]
train = { epochs = 5 }

[ablation]
variants = []
"""


def test_load_tuned_config(tmp_path):
    path = tmp_path / "node_classification.toml"
    path.write_text(CONFIG)
    # [model.Dataset] overrides [model]
    assert load_tuned_config(path, "sgcn", "cora") == (
        {"T": 4, "hidden_channels": 64},
        {"epochs": 3, "lr": 0.01},
    )
    assert load_tuned_config(path, "sgcn", "PubMed") == (
        {"T": 8, "hidden_channels": 64},
        {"epochs": 200, "lr": 0.01},
    )
    assert load_tuned_config(path, "gcn", "PubMed") == ({}, {"epochs": 5})
    assert load_tuned_config(path, "sgat", "Cora") == ({}, {})
    with pytest.raises(FileNotFoundError, match=r"Config file .*missing.toml does not exist"):
        load_tuned_config(tmp_path / "missing.toml", "sgcn", "Cora")
    with pytest.raises(FileNotFoundError, match=r"is a folder"):
        load_tuned_config(tmp_path, "sgcn", "Cora")
    assert load_tuned_config(None, "sgcn", "Cora") == ({}, {})
    path.write_text("sgcn = 3\n")
    with pytest.raises(ValueError, match=r"\[sgcn\] must be a table, got 3"):
        load_tuned_config(path, "sgcn", "Cora")
    path.write_text("[sgcn\n")
    with pytest.raises(ValueError, match=rf"Config file {path} is not valid TOML"):
        load_tuned_config(path, "sgcn", "Cora")


def test_model_cost_trains_then_counts():
    data = node_data()
    run = model_cost("sgcn", data, 2, dataset="toy", epochs=2, model_options={"T": 4})
    assert run.trained and run.epochs_run == 2
    assert 0.0 <= run.test_acc <= 1.0
    assert run.report.total.num_nodes == data.num_nodes
    assert run.report.select(kind="neuron")
    d = json.loads(json.dumps(run.to_dict()))
    assert d["train_options"]["epochs"] == 2 and d["model_options"] == {"T": 4}
    # The model's own training defaults apply, as in `spikegraph train` (GAT models: lr
    # 0.005); given options win.
    sgat = model_cost("sgat", data, 2, epochs=1, model_options={"T": 2, "heads": 2})
    assert sgat.to_dict()["train_options"]["lr"] == 0.005
    given = model_cost("sgat", data, 2, epochs=1, model_options={"T": 2, "heads": 2},
                       train_options={"lr": 0.02})  # fmt: skip
    assert given.to_dict()["train_options"]["lr"] == 0.02
    fresh = model_cost("gcn", data, 2, epochs=0)
    assert not fresh.trained and fresh.epochs_run == 0
    with pytest.raises(ValueError, match="'epochs' must be an int >= 0, got -1"):
        model_cost("gcn", data, 2, epochs=-1)
    with pytest.raises(ValueError, match="Unknown energy profile 'tpu'"):
        model_cost("gcn", data, 2, epochs=3, profile="tpu")


def test_energy_of_restores_the_mode():
    data = node_data()
    model = build_model("sgcn", data.num_features, 2, T=4).train()
    out = energy_of(model, data, profile="int8")
    assert model.training
    assert out["profile"] == "int8" and "Horowitz" in out["profile_source"]
    assert out["energy_pj"] == pytest.approx(0.23 * out["macs"] + 0.03 * out["acs"])
    assert out["energy_per_node_pj"] == pytest.approx(out["energy_pj"] / data.num_nodes)
    assert set(out["firing_rates"]) == {"convs.0.neuron"}


def test_cli_rejects_bad_profiles(capsys):
    assert main(["cost", "--profile", "tpu"]) == 2
    assert "Unknown energy profile 'tpu'" in capsys.readouterr().err
    assert main(["cost", "--mac-pj", "1.0"]) == 2
    assert "needs --mac-pj, --ac-pj and --profile-source" in capsys.readouterr().err
    assert main(["cost", "--mac-pj", "-1", "--ac-pj", "1", "--profile-source", "x"]) == 2
    assert "'mac_pj' must be a finite, non-negative" in capsys.readouterr().err


def test_cli_compares_on_cora(data_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPIKEGRAPH_DATA", str(data_root))  # the fixture skips without data
    monkeypatch.setenv("SPIKEGRAPH_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "out" / "cost.json"
    args = ["cost", "--dataset", "Cora", "--model", "sgcn", "--vs", "gcn", "--epochs", "0"]
    assert main([*args, "--json", str(path), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "SpikingGCN" in printed and "ratio" in printed and f"wrote {path}" in printed
    record = json.loads(Path(path).read_text())
    first, second = record["first"]["report"], record["second"]["report"]
    assert first["total"]["num_nodes"] == second["total"]["num_nodes"] == 2708
    assert record["comparison"]["ratios"]["energy"] == pytest.approx(
        first["total"]["energy_pj"] / second["total"]["energy_pj"]
    )
    # the ordinary GCN's first layer is dense: 2708 nodes x 1433 features x 64 hidden MACs
    gcn_first = next(r for r in second["layers"] if r["name"] == "convs.0.lin")
    assert gcn_first["macs"] == 2708 * 1433 * 64
