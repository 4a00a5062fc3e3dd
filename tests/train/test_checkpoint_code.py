"""A checkpoint names the code that wrote it: resuming one written by other code warns, and
the result (hence the run's record) says which checkpoint it came from, when and by what
code it was written."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from spikegraph import _provenance as provenance
from spikegraph.experiments import tune
from spikegraph.models import SpikingGCN
from spikegraph.train import TrainConfig, fit
from spikegraph.train.checkpoint import CheckpointCodeWarning
from spikegraph.train.trainer import TrainingInterrupted

EPOCHS = 4


def make_model(seed: int = 0) -> SpikingGCN:
    torch.manual_seed(seed)
    return SpikingGCN(8, 16, 2, 2, dropout=0.3, T=4)


def at_commit(monkeypatch, commit: str) -> dict:
    """Name the code this process runs as ``commit``; returns its code identity."""
    monkeypatch.setattr(provenance, "source_commit", lambda: commit)
    monkeypatch.setattr(tune, "source_commit", lambda: commit)
    return tune.code_identity()


def config(ck, **kw) -> TrainConfig:
    return TrainConfig(
        epochs=EPOCHS, patience=None, progress=False, checkpoint=str(ck), checkpoint_every=1, **kw
    )


def stop_after_two_epochs(monkeypatch, ck, data) -> None:
    """Train with checkpoint ``ck`` and stop by Ctrl-C in epoch 3 (epochs 1 and 2 saved)."""

    class Stop(torch.optim.Adam):
        calls = 0

        def step(self, closure=None):
            out = super().step(closure)
            type(self).calls += 1
            if type(self).calls == 3:  # full batch: one step per epoch
                raise KeyboardInterrupt
            return out

    with monkeypatch.context() as m:
        m.setattr(torch.optim, "Adam", Stop)
        with pytest.raises(TrainingInterrupted):
            fit(make_model(), data, config(ck))
    assert torch.load(ck, weights_only=True)["state"]["epoch"] == 2


def test_a_checkpoint_names_the_code_and_date_of_each_session_that_wrote_it(
    node_data, tmp_path, monkeypatch
):
    ck = tmp_path / "ck.pt"
    code = at_commit(monkeypatch, "aaa")
    result = fit(make_model(), node_data, config(ck))
    assert result.resumed_from is None  # a run trained from its start
    (writer,) = torch.load(ck, weights_only=True)["written_by"]
    assert writer["code"] == code and writer["code"]["commit"] == "aaa"
    assert (writer["epoch"], writer["finished"]) == (EPOCHS, True)
    assert writer["date"].endswith("+00:00")  # ISO 8601, UTC


def test_a_finished_checkpoint_of_the_same_code_is_returned_quietly_and_says_so(
    node_data, tmp_path, monkeypatch
):
    ck = tmp_path / "ck.pt"
    at_commit(monkeypatch, "aaa")
    first = fit(make_model(), node_data, config(ck))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointCodeWarning)
        again = fit(make_model(), node_data, config(ck))
    assert again.history == first.history
    note = again.resumed_from
    assert note["checkpoint"] == str(ck)
    assert (note["epoch"], note["finished"], note["same_code"]) == (EPOCHS, True, True)
    assert [w["code"]["commit"] for w in note["written_by"]] == ["aaa"]


def test_a_finished_checkpoint_of_other_code_warns_and_the_result_names_that_code(
    node_data, tmp_path, monkeypatch
):
    ck = tmp_path / "ck.pt"
    at_commit(monkeypatch, "aaa")
    first = fit(make_model(), node_data, config(ck))
    written = torch.load(ck, weights_only=True)["written_by"][0]["date"]
    at_commit(monkeypatch, "bbb")
    with pytest.warns(CheckpointCodeWarning, match=r"commit: checkpoint 'aaa', now 'bbb'"):
        again = fit(make_model(), node_data, config(ck))
    assert again.history == first.history  # restored, not trained
    note = again.resumed_from
    assert (note["finished"], note["same_code"]) == (True, False)
    assert [(w["code"]["commit"], w["date"]) for w in note["written_by"]] == [("aaa", written)]
    # the result's plain data (what records keep) carries it
    assert (
        json.loads(json.dumps(again.to_dict()))["resumed_from"]["written_by"][0]["code"]["commit"]
        == "aaa"
    )


def test_a_run_resumed_by_other_code_warns_and_the_checkpoint_keeps_both_writers(
    node_data, tmp_path, monkeypatch
):
    ref = fit(make_model(), node_data, TrainConfig(epochs=EPOCHS, patience=None, progress=False))
    ck = tmp_path / "ck.pt"
    at_commit(monkeypatch, "aaa")
    stop_after_two_epochs(monkeypatch, ck, node_data)
    at_commit(monkeypatch, "bbb")
    with pytest.warns(CheckpointCodeWarning, match=r"2 epoch\(s\)"):
        resumed = fit(make_model(seed=5), node_data, config(ck))
    assert resumed.history == ref.history  # a bug-fix commit may resume: it is not refused
    note = resumed.resumed_from
    assert (note["epoch"], note["finished"], note["same_code"]) == (2, False, False)
    writers = torch.load(ck, weights_only=True)["written_by"]
    assert [(w["code"]["commit"], w["epoch"], w["finished"]) for w in writers] == [
        ("aaa", 2, False),
        ("bbb", EPOCHS, True),
    ]


def test_a_checkpoint_that_names_no_code_warns_that_its_code_is_unknown(
    node_data, tmp_path, monkeypatch
):
    ck = tmp_path / "ck.pt"
    at_commit(monkeypatch, "aaa")
    fit(make_model(), node_data, config(ck))
    saved = torch.load(ck, weights_only=True)
    del saved["written_by"]  # as written before checkpoints named their code
    torch.save(saved, ck)
    with pytest.warns(CheckpointCodeWarning, match=r"does not name the code"):
        again = fit(make_model(), node_data, config(ck))
    note = again.resumed_from
    assert note["same_code"] is None and note["written_by"] == []


def test_epochs_of_unknown_code_stay_marked_when_the_run_goes_on(node_data, tmp_path, monkeypatch):
    ck = tmp_path / "ck.pt"
    at_commit(monkeypatch, "aaa")
    stop_after_two_epochs(monkeypatch, ck, node_data)
    saved = torch.load(ck, weights_only=True)
    del saved["written_by"]  # as written before checkpoints named their code
    torch.save(saved, ck)
    with pytest.warns(CheckpointCodeWarning, match=r"does not name the code"):
        fit(make_model(), node_data, config(ck))
    writers = torch.load(ck, weights_only=True)["written_by"]
    assert [(w["code"] and w["code"]["commit"], w["date"], w["epoch"]) for w in writers] == [
        (None, None, 2),
        ("aaa", writers[1]["date"], EPOCHS),
    ]
    assert writers[1]["date"] is not None


def test_uncommitted_changes_make_the_same_code_unknown(node_data, tmp_path, monkeypatch):
    ck = tmp_path / "ck.pt"
    at_commit(monkeypatch, "aaa + uncommitted changes")
    fit(make_model(), node_data, config(ck))
    with pytest.warns(CheckpointCodeWarning, match=r"uncommitted changes"):
        again = fit(make_model(), node_data, config(ck))
    assert again.resumed_from["same_code"] is None


def test_the_record_of_a_rerun_train_command_names_the_checkpoints_code_and_date(
    data_root, tmp_path, monkeypatch, capsys
):
    from spikegraph.cli import main

    ckpt, first, again = tmp_path / "ck.pt", tmp_path / "first.json", tmp_path / "again.json"
    argv = ["train", "--dataset", "Cora", "--model", "gcn", "--hidden", "8", "--no-progress"]
    argv += ["--root", str(data_root), "--epochs", "2", "--checkpoint", str(ckpt)]
    at_commit(monkeypatch, "aaa")
    assert main([*argv, "--json", str(first)]) == 0
    assert "from a checkpoint" not in capsys.readouterr().out
    saved = next(tmp_path.glob("ck*.pt"))  # the seed's own checkpoint
    written = torch.load(saved, weights_only=True)["written_by"][0]["date"]
    at_commit(monkeypatch, "bbb")
    with pytest.warns(CheckpointCodeWarning):
        assert main([*argv, "--json", str(again)]) == 0
    # the printed summary says so too, not only the warning and the record
    out = capsys.readouterr().out
    assert f"returned finished from a checkpoint, {saved} (written by other code)" in out
    (run0,) = json.loads(first.read_text())["runs"]
    (run1,) = json.loads(again.read_text())["runs"]
    assert "resumed_from" not in run0["result"]  # trained from its start: as before
    note = run1["result"]["resumed_from"]
    assert (note["finished"], note["same_code"]) == (True, False)
    (writer,) = note["written_by"]
    assert (writer["code"]["commit"], writer["date"]) == ("aaa", written)
    assert writer["code"]["versions"]["spikegraph"]
    assert run1["result"]["history"] == run0["result"]["history"]
