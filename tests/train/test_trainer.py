import warnings
from dataclasses import asdict

import pytest
import torch
from sklearn.metrics import accuracy_score
from torch_geometric.data import Data

from spikegraph.models import SpikingGCN
from spikegraph.nn.monitor import SilentLayerWarning
from spikegraph.train import (
    TrainConfig,
    TrainResult,
    check_node_data,
    fit,
    full_batch_step,
    predict,
)
from spikegraph.train.trainer import describe


def make_model(seed: int = 0, dropout: float = 0.3) -> SpikingGCN:
    torch.manual_seed(seed)
    return SpikingGCN(8, 16, 2, 2, dropout=dropout, T=4)


def quiet(**kwargs) -> TrainConfig:
    return TrainConfig(progress=False, **kwargs)


def test_fit_returns_a_sane_result(node_data):
    model = make_model()
    config = quiet(epochs=5, patience=None, lr=0.02)
    result = fit(model, node_data, config)
    assert isinstance(result, TrainResult)
    assert result.epochs_run == 5 and len(result.history) == 5
    assert [h["epoch"] for h in result.history] == [1, 2, 3, 4, 5]
    assert 1 <= result.best_epoch <= 5
    for key in ("test_acc", "val_acc", "train_acc"):
        assert 0.0 <= getattr(result, key) <= 1.0
    assert result.val_acc == max(h["val"] for h in result.history)
    assert result.history[result.best_epoch - 1]["val"] == result.val_acc
    assert all(h["loss"] > 0 for h in result.history)
    assert result.time_per_epoch > 0 and result.inference_time > 0
    assert list(result.firing_rates) == model.spiking_layers() == ["convs.0"]
    assert 0 <= result.firing_rates["convs.0"] <= 1
    assert result.config == asdict(config)
    # The model holds the best weights, and the reported accuracies are theirs.
    pred = predict(model, node_data).argmax(-1)
    for split, acc in (("test", result.test_acc), ("train", result.train_acc)):
        mask = node_data[f"{split}_mask"]
        assert acc == pytest.approx(accuracy_score(node_data.y[mask], pred[mask]))
    d = result.to_dict()
    assert "history" not in d and "history" in result.to_dict(history=True)
    # each epoch's training time, for convergence against wall time; with the history only
    assert len(result.epoch_times) == 5 and all(t > 0 for t in result.epoch_times)
    assert sum(result.epoch_times) == pytest.approx(5 * result.time_per_epoch)
    assert "epoch_times" not in d and "epoch_times" in result.to_dict(history=True)


def test_a_layer_that_never_fires_is_reported_not_silently_scored(node_data):
    # The dead trials of lif-sgat's first sweep: features far below the threshold, fed
    # unscaled, no normalisation; the hidden layer never fires and the model predicts one
    # class. Training says so instead of returning a constant prediction as a result.
    data = node_data.clone()
    data.x = node_data.x.abs() * 1e-4
    torch.manual_seed(0)
    silent = SpikingGCN(8, 16, 2, 2, T=4, encoder="auto", norm=None)
    with pytest.warns(SilentLayerWarning, match=r"'convs.0' fired no spike .*encoder='max-scaled'"):
        result = fit(silent, data, quiet(epochs=2, patience=None))
    assert result.firing_rates["convs.0"] == 0.0
    assert predict(silent, data).argmax(-1).unique().numel() == 1  # one class for every node
    # the same model on features it can fire on: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", SilentLayerWarning)
        result = fit(make_model(), node_data, quiet(epochs=2, patience=None))
    assert result.firing_rates["convs.0"] > 0


def test_training_lowers_the_loss(node_data):
    result = fit(make_model(dropout=0.0), node_data, quiet(epochs=15, patience=None, lr=0.05))
    losses = [h["loss"] for h in result.history]
    assert min(losses[-3:]) < losses[0]


def test_same_seed_same_run(node_data):
    config = quiet(epochs=3, patience=None, seed=5)
    a = fit(make_model(), node_data, config)
    b = fit(make_model(), node_data, config)
    assert a.history == b.history


def test_the_seed_of_the_config_decides_the_run(node_data):
    """fit seeds torch itself: from the same initial weights, the same seed gives the same
    run whatever state torch's generator was left in, and another seed another run (the
    dropout masks differ). The test never seeds torch between the runs."""
    model = make_model(dropout=0.5)  # built (and its init drawn) once
    initial = {k: v.clone() for k, v in model.state_dict().items()}

    def run(seed: int):
        model.load_state_dict(initial)  # fit restores its best weights into the model
        result = fit(model, node_data, quiet(epochs=3, patience=None, seed=seed))
        return result.history, {k: v.clone() for k, v in model.state_dict().items()}

    first, first_weights = run(5)
    torch.rand(1000)  # torch's generator is elsewhere now: only fit's seed can bring it back
    again, again_weights = run(5)
    other, _ = run(6)
    assert again == first
    assert all(torch.equal(again_weights[k], v) for k, v in first_weights.items())
    assert [h["loss"] for h in other] != [h["loss"] for h in first]


def interrupting_step(after: int):
    """A train step that raises ``KeyboardInterrupt`` on call ``after + 1`` (Ctrl-C).

    It trains as ``full_batch_step`` does and says so (``describe``), so a checkpoint it
    wrote can be resumed with ``full_batch_step``.
    """
    calls = {"n": 0}

    def step(model, data, optimizer):
        if calls["n"] == after:
            raise KeyboardInterrupt
        calls["n"] += 1
        return full_batch_step(model, data, optimizer)

    step.describe = lambda: describe(full_batch_step)
    return step


@pytest.mark.parametrize("interrupt_after", [2, 3])
def test_interrupted_and_resumed_equals_uninterrupted(node_data, tmp_path, interrupt_after):
    epochs = 6
    # Uninterrupted reference run (it checkpoints too, so its last state can be compared).
    ref_ckpt = tmp_path / "ref.pt"
    ref_model = make_model()
    ref = fit(ref_model, node_data, quiet(epochs=epochs, patience=None, checkpoint=str(ref_ckpt)))

    ckpt = tmp_path / "run.pt"
    config = quiet(epochs=epochs, patience=None, checkpoint=str(ckpt), checkpoint_every=1)
    with pytest.raises(KeyboardInterrupt):
        fit(make_model(), node_data, config, train_step=interrupting_step(interrupt_after))
    assert torch.load(ckpt, weights_only=True)["state"]["epoch"] == interrupt_after

    # Resume into a model initialised differently: everything must come from the checkpoint.
    resumed_model = make_model(seed=99)
    resumed = fit(resumed_model, node_data, config)

    assert resumed.history == ref.history
    assert resumed.epochs_run == ref.epochs_run == epochs
    assert (resumed.best_epoch, resumed.val_acc, resumed.test_acc) == (
        ref.best_epoch,
        ref.val_acc,
        ref.test_acc,
    )
    for name, value in ref_model.state_dict().items():
        assert torch.equal(resumed_model.state_dict()[name], value), name
    last_ref = torch.load(ref_ckpt, weights_only=True)
    last = torch.load(ckpt, weights_only=True)
    for name, value in last_ref["model"].items():
        assert torch.equal(last["model"][name], value), name
    assert torch.equal(last["rng"]["torch"], last_ref["rng"]["torch"])


def test_resume_is_not_a_restart(node_data, tmp_path):
    # Control for the test above: without the checkpoint the second model trains differently.
    config = quiet(epochs=4, patience=None)
    a = fit(make_model(), node_data, config)
    b = fit(make_model(seed=99), node_data, config)
    assert a.history != b.history


def test_finished_checkpoint_is_not_retrained(node_data, tmp_path):
    config = quiet(epochs=3, patience=None, checkpoint=str(tmp_path / "c.pt"))
    first = fit(make_model(), node_data, config)
    calls = []

    def step(*args):
        calls.append(1)
        return full_batch_step(*args)

    step.describe = lambda: describe(full_batch_step)
    second = fit(make_model(seed=1), node_data, config, train_step=step)
    assert calls == [] and second.history == first.history


def test_early_stopping_stops(node_data):
    # Constant logits: the validation accuracy never improves after epoch 1.
    def constant(model, data):
        return torch.zeros(data.num_nodes, 2)

    result = fit(make_model(), node_data, quiet(epochs=50, patience=3), evaluate=constant)
    assert result.best_epoch == 1
    assert result.epochs_run == 4 and len(result.history) == 4


def test_no_early_stopping_with_patience_none(node_data):
    def constant(model, data):
        return torch.zeros(data.num_nodes, 2)

    result = fit(make_model(), node_data, quiet(epochs=6, patience=None), evaluate=constant)
    assert result.epochs_run == 6


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"epochs": 0}, r"'epochs' must be >= 1, got 0"),
        ({"lr": 0.0}, r"'lr' must be > 0, got 0.0"),
        ({"lr": -0.1}, r"'lr' must be > 0, got -0.1"),
        ({"lr": float("nan")}, r"'lr' must be > 0, got nan"),
        ({"weight_decay": -1e-4}, r"'weight_decay' must be >= 0, got -0.0001"),
        ({"patience": 0}, r"'patience' must be >= 1 or None, got 0"),
        ({"checkpoint_every": 0}, r"'checkpoint_every' must be >= 1, got 0"),
    ],
)
def test_bad_config(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        TrainConfig(**kwargs)


def with_change(data: Data, **changes) -> Data:
    out = data.clone()
    for key, value in changes.items():
        if value is None:
            del out[key]
        else:
            out[key] = value
    return out


@pytest.mark.parametrize(
    "changes, msg",
    [
        ({"train_mask": None}, r"'data' has no 'train_mask'"),
        (
            {"val_mask": torch.ones(40, dtype=torch.long)},
            r"'data.val_mask' must be a bool tensor of 40 entries, got dtype torch.int64 and 40",
        ),
        (
            {"test_mask": torch.ones(39, dtype=torch.bool)},
            r"'data.test_mask' must be a bool tensor of 40 entries, got dtype torch.bool and 39",
        ),
        ({"train_mask": torch.zeros(40, dtype=torch.bool)}, r"'data.train_mask' selects no node"),
    ],
)
def test_bad_masks(node_data, changes, msg):
    bad = with_change(node_data, **changes)
    with pytest.raises(ValueError, match=msg):
        check_node_data(bad)
    with pytest.raises(ValueError, match=msg):
        fit(make_model(), bad, quiet(epochs=1))


def test_bad_graph_data(node_data):
    x = node_data.x.clone()
    x[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"'data.x' contains NaN or infinite values"):
        check_node_data(with_change(node_data, x=x))
    ei = node_data.edge_index.clone()
    ei[1, 0] = 40
    with pytest.raises(ValueError, match=r"'data.edge_index' holds target node id 40"):
        check_node_data(with_change(node_data, edge_index=ei))
    empty = Data(x=torch.empty(0, 8), edge_index=torch.empty(2, 0, dtype=torch.long))
    with pytest.raises(ValueError, match=r"The graph is empty \(num_nodes=0\)"):
        check_node_data(empty)
