"""Two tables of one dataset spelt in different case (``[sgcn.Cora.model]`` and
``[sgcn.cora.model]``) are an error naming both, not one of them silently used."""

from __future__ import annotations

import pytest

from spikegraph.config import ConfigError, check_config, load_model_config, model_config

TWO = "[sgcn.Cora.model]\nT = 4\n\n[sgcn.cora.model]\nT = 8\n"


def test_a_file_with_one_dataset_in_two_spellings_is_refused_naming_both(tmp_path):
    path = tmp_path / "dup.toml"
    path.write_text(TWO)
    with pytest.raises(ConfigError, match=r"\[sgcn\.Cora\] and \[sgcn\.cora\]") as info:
        load_model_config(path, "sgcn", "Cora")
    assert str(path) in str(info.value) and "'Cora'" in str(info.value)


def test_model_config_refuses_them_too_when_the_file_was_not_checked():
    config = {"sgcn": {"Cora": {"model": {"T": 4}}, "CORA": {"model": {"T": 8}}}}
    with pytest.raises(ConfigError, match=r"\[sgcn\.CORA\] and \[sgcn\.Cora\]"):
        model_config(config, "sgcn", "cora")
    # another model's, or another dataset's, tables are unaffected
    assert model_config(config, "gcn", "Cora") == ({}, {})
    assert model_config(config, "sgcn", "PubMed") == ({}, {})


def test_one_spelling_of_a_dataset_in_any_case_is_read():
    config = check_config({"sgcn": {"model": {"T": 2}, "cora": {"model": {"T": 8}}}})
    assert model_config(config, "sgcn", "Cora") == ({"T": 8}, {})
    assert model_config(config, "sgcn", "PubMed") == ({"T": 2}, {})
