"""The one TOML configuration reader: what it accepts, and that every wrong key is refused."""

from __future__ import annotations

import pytest

from spikegraph.config import (
    ConfigError,
    load_config,
    load_model_config,
    model_config,
    read_toml,
)
from spikegraph.experiments.cost import load_tuned_config

GOOD = """
[sgcn.model]
hidden_channels = 32
T = 4

[sgcn.train]
lr = 0.02

[sgcn.PubMed.model]
T = 8

[gcn.train]
epochs = 5

[ablation]
variants = []
"""


def write(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_reads_merges_and_overrides_per_dataset(tmp_path):
    path = write(tmp_path, GOOD)
    assert load_model_config(path, "sgcn", "pubmed") == (
        {"hidden_channels": 32, "T": 8},
        {"lr": 0.02},
    )
    assert load_model_config(path, "sgcn", "Cora") == (
        {"hidden_channels": 32, "T": 4},
        {"lr": 0.02},
    )
    assert load_model_config(path, "sgat", "Cora") == ({}, {})
    assert load_model_config(None, "sgcn", "Cora") == ({}, {})
    # the cost command's reader is the same one
    assert load_tuned_config(path, "gcn", "Cora") == ({}, {"epochs": 5})
    config = load_config(path, extra_tables=["ablation"])
    assert model_config(config, "gcn", "CiteSeer") == ({}, {"epochs": 5})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[sgnc.model]\nT = 4\n", r"unknown table \(model name\) 'sgnc' \(did you mean 'sgcn'\?\)"),
        ("[sgcn.modle]\nT = 4\n", r"unknown key in \[sgcn\] .* 'modle' \(did you mean 'model'\?\)"),
        ("[sgcn.Coraa.model]\nT = 4\n", r"'Coraa' \(did you mean 'Cora'\?\)"),
        ("[sgcn.Cora.trian]\nlr = 1\n", r"unknown section in \[sgcn.Cora\] 'trian'"),
        (
            "[sgcn.train]\nlearning_rate = 0.1\n",
            r"training field in \[sgcn.train\] 'learning_rate'",
        ),
        ("[sgcn.model]\nhiden_channels = 8\n", r"\[sgcn.model\]: Unknown option 'hiden_channels'"),
        ("sgcn = 3\n", r"\[sgcn\] must be a table, got 3"),
        ("[sgcn]\nmodel = 3\n", r"\[sgcn.model\] must be a table, got 3"),
        ("[sgcn\n", r"is not valid TOML"),
    ],
)
def test_every_wrong_key_is_refused_naming_it(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_model_config(path, "sgcn", "Cora")
    assert str(path) in str(info.value)


def test_missing_file_folder_and_binary(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing.toml does not exist"):
        read_toml(tmp_path / "missing.toml")
    with pytest.raises(FileNotFoundError, match="is a folder"):
        read_toml(tmp_path)
    path = tmp_path / "b.toml"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_toml(path)


def test_only_named_other_tables_are_skipped(tmp_path):
    path = write(tmp_path, GOOD + "\n[notes]\ntext = 'x'\n")
    with pytest.raises(ConfigError, match="'notes'"):
        load_model_config(path, "sgcn", "Cora")
