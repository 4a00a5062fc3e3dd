"""Ctrl-C (``KeyboardInterrupt``) in ``fit``: the last finished epoch is saved to the
checkpoint, whatever moment the interrupt lands, and resuming gives the uninterrupted run."""

from __future__ import annotations

import pytest
import torch

from spikegraph.models import SpikingGCN
from spikegraph.samplers import GraphSAGESampler, Loader
from spikegraph.train import TrainConfig, fit
from spikegraph.train.minibatch import minibatch_step
from spikegraph.train.trainer import TrainingInterrupted

EPOCHS = 6


def make_model(seed: int = 0) -> SpikingGCN:
    torch.manual_seed(seed)
    return SpikingGCN(8, 16, 2, 2, dropout=0.3, T=4)


def loader_for(data) -> Loader:
    return Loader(
        GraphSAGESampler(data, num_neighbors=[3, 3], seed=0),
        seeds=data.train_mask.nonzero().view(-1),
        batch_size=4,
        shuffle=True,
        seed=0,
    )


class InterruptingAdam(torch.optim.Adam):
    """Adam that raises ``KeyboardInterrupt`` after its ``after``-th step (mid-epoch)."""

    after = -1
    calls = 0

    def step(self, closure=None):
        out = super().step(closure)
        type(self).calls += 1
        if type(self).calls == type(self).after:
            raise KeyboardInterrupt
        return out


@pytest.mark.parametrize("mode", ["full", "mini"])
def test_ctrl_c_mid_epoch_saves_the_last_epoch_and_resume_is_exact(
    node_data, tmp_path, monkeypatch, mode
):
    def step():
        return minibatch_step(loader_for(node_data)) if mode == "mini" else None

    def run(model, config, **kw):
        s = step()
        return fit(model, node_data, config, **({"train_step": s} if s else {}), **kw)

    ref = run(make_model(), TrainConfig(epochs=EPOCHS, patience=None, progress=False))
    ck = tmp_path / "ck.pt"
    # checkpoint_every is larger than the run: only the interrupt writes a checkpoint.
    config = TrainConfig(
        epochs=EPOCHS, patience=None, progress=False, checkpoint=str(ck), checkpoint_every=50
    )
    steps_per_epoch = 1 if mode == "full" else len(loader_for(node_data))
    # Interrupt in the middle of epoch 4: after three epochs and a bit.
    InterruptingAdam.calls, InterruptingAdam.after = 0, 3 * steps_per_epoch + 1
    monkeypatch.setattr(torch.optim, "Adam", InterruptingAdam)
    with pytest.raises(TrainingInterrupted) as info:
        run(make_model(), config)
    monkeypatch.undo()
    assert isinstance(info.value, KeyboardInterrupt)
    assert (info.value.epoch, info.value.checkpoint) == (3, ck)
    assert "saved epoch 3" in str(info.value)
    assert torch.load(ck, weights_only=True)["state"]["epoch"] == 3
    resumed = run(make_model(seed=7), config)
    assert resumed.history == ref.history
    assert (resumed.test_acc, resumed.best_epoch) == (ref.test_acc, ref.best_epoch)


def test_ctrl_c_in_the_first_epoch_saves_nothing(node_data, tmp_path, monkeypatch):
    ck = tmp_path / "ck.pt"
    config = TrainConfig(epochs=EPOCHS, progress=False, checkpoint=str(ck))
    InterruptingAdam.calls, InterruptingAdam.after = 0, 1
    monkeypatch.setattr(torch.optim, "Adam", InterruptingAdam)
    with pytest.raises(TrainingInterrupted) as info:
        fit(make_model(), node_data, config)
    assert info.value.epoch == 0 and not ck.exists()
    assert "no epoch finished" in str(info.value)


def test_ctrl_c_without_a_checkpoint_says_nothing_was_saved(node_data, monkeypatch):
    InterruptingAdam.calls, InterruptingAdam.after = 0, 2
    monkeypatch.setattr(torch.optim, "Adam", InterruptingAdam)
    with pytest.raises(TrainingInterrupted) as info:
        fit(make_model(), node_data, TrainConfig(epochs=EPOCHS, progress=False))
    assert info.value.checkpoint is None and info.value.epoch == 1
    assert "no checkpoint" in str(info.value)
