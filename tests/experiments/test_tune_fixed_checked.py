"""A study's fixed options are checked when its configuration is made: a value the model
refuses fails before any storage or study is created, naming the value."""

from __future__ import annotations

import pytest

optuna = pytest.importorskip("optuna")

from spikegraph.cli import main  # noqa: E402
from tests.experiments.test_tune import config, url  # noqa: E402


def test_a_fixed_value_the_model_refuses_fails_in_the_configuration():
    with pytest.raises(ValueError, match=r"Unknown norm 'foo'"):
        config("gcsnn", fixed={"norm": "foo"})
    assert config("gcsnn", fixed={"norm": "none"}).fixed == {"norm": "none"}


def test_a_fixed_value_check_leaves_torchs_random_state_alone():
    import torch

    torch.manual_seed(3)
    want = torch.rand(4)
    torch.manual_seed(3)
    config("gcsnn", fixed={"norm": "none"})
    assert torch.equal(torch.rand(4), want)


def test_cli_refuses_a_bad_fixed_value_before_creating_the_study(tmp_path, toy, capsys):
    db = tmp_path / "s.db"
    argv = ["tune", "--model", "gcsnn", "--fix", "norm=foo", "--trials", "1", "--epochs", "2"]
    argv += ["--seeds", "0", "--storage", url(tmp_path, "s.db")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Unknown norm 'foo'" in err
    # no study (nor a failed trial) was left in the storage
    assert not db.exists() or optuna.get_all_study_names(url(tmp_path, "s.db")) == []


def test_a_fixed_value_that_builds_with_some_drawn_parameters_is_accepted(monkeypatch):
    # A fixed option may need another value of a searched parameter than the registry's
    # default: the study must not be refused when some trial can build it.
    from spikegraph.experiments import tune

    real = tune.build_model
    seen = []

    def needs_two_heads(name, i, o, **options):
        seen.append(options.get("heads"))
        if options.get("out_heads") == 5 and options.get("heads") != 2:
            raise ValueError("out_heads=5 needs heads=2")
        if options.get("out_heads") == 6:
            raise ValueError("never 6")
        return real(name, i, o, **options)

    monkeypatch.setattr(tune, "build_model", needs_two_heads)
    assert config("sgat", fixed={"out_heads": 5}).fixed == {"out_heads": 5}
    assert seen[0] is None and 2 in seen  # the defaults first, then drawn heads
    with pytest.raises(ValueError, match=r"\(out_heads=6\) are refused by model 'sgat': never 6"):
        config("sgat", fixed={"out_heads": 6})
