"""Checkpoints: no code from disk, a clear error for a corrupt file or another run's file,
exact resume (Bernoulli encoders, mini-batch loaders), finished runs, non-finite losses."""

from __future__ import annotations

import contextlib
import os
import pickle
from pathlib import Path

import pytest
import torch

from spikegraph.models import SpikingGCN
from spikegraph.samplers import SAMPLERS, Loader
from spikegraph.train import TrainConfig, fit, full_batch_step
from spikegraph.train.minibatch import minibatch_step


def make_model(seed: int = 0, **kwargs) -> SpikingGCN:
    torch.manual_seed(seed)
    return SpikingGCN(8, 16, 2, 2, **{"dropout": 0.3, "T": 4, **kwargs})


def quiet(**kwargs) -> TrainConfig:
    return TrainConfig(progress=False, **{"patience": None, **kwargs})


class WritesMarker:
    """Unpickling this calls ``open(marker, "w")``: what a hostile checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_crafted_checkpoint_runs_no_code(node_data, tmp_path, how):
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "evil.pt"
    payload = {"model": WritesMarker(marker), "state": {"epoch": 1}}
    if how == "pickle":
        ckpt.write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, ckpt)
    with pytest.raises(ValueError, match=rf"Checkpoint {ckpt} holds more than plain tensors"):
        fit(make_model(), node_data, quiet(epochs=2, checkpoint=str(ckpt)))
    assert not marker.exists()


@pytest.mark.parametrize("cut", [0, 10, 0.5])
def test_truncated_checkpoint_is_a_clear_error(node_data, tmp_path, cut):
    ckpt = tmp_path / "c.pt"
    fit(make_model(), node_data, quiet(epochs=2, checkpoint=str(ckpt)))
    blob = ckpt.read_bytes()
    ckpt.write_bytes(blob[: int(len(blob) * cut) if isinstance(cut, float) else cut])
    with pytest.raises(ValueError, match=rf"Checkpoint {ckpt} is truncated or corrupt"):
        fit(make_model(), node_data, quiet(epochs=2, checkpoint=str(ckpt)))


def test_foreign_file_is_not_a_checkpoint(node_data, tmp_path):
    ckpt = tmp_path / "c.pt"
    torch.save({"weights": torch.ones(3)}, ckpt)
    with pytest.raises(ValueError, match=rf"{ckpt} is not a spikegraph checkpoint"):
        fit(make_model(), node_data, quiet(epochs=2, checkpoint=str(ckpt)))


def test_checkpoint_loads_with_weights_only(node_data, tmp_path):
    ckpt = tmp_path / "c.pt"
    fit(make_model(encoder="bernoulli"), node_data, quiet(epochs=2, checkpoint=str(ckpt)))
    saved = torch.load(ckpt, weights_only=True)
    assert saved["finished"] is True and saved["state"]["epoch"] == 2
    assert saved["identity"]["train"]["lr"] == 0.01
    # no temporary file left (the run's lock file stays beside the checkpoint, as filelock's do)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt", "c.pt.lock"]


@pytest.mark.parametrize(
    "train_change, model_change, field",
    [
        ({"lr": 0.5}, {}, r"train\.lr: checkpoint 0\.01, now 0\.5"),
        ({"seed": 3}, {}, r"train\.seed: checkpoint 0, now 3"),
        ({"epochs": 5}, {}, r"train\.epochs: checkpoint 4, now 5"),
        ({"weight_decay": 0.0}, {}, r"train\.weight_decay: checkpoint 0\.0005, now 0\.0"),
        # Same parameter shapes and no run_info (a plain Python call): the model's own
        # settings tell the runs apart, not the caller.
        ({}, {"T": 8}, r"model\.settings\.T: checkpoint 4, now 8"),
        ({}, {"dropout": 0.9}, r"model\.settings\.dropout: checkpoint 0\.3, now 0\.9"),
        ({}, {"tau": 2.0}, r"model\.settings\.convs\.0\.neuron\.tau: checkpoint 4\.0, now 2\.0"),
    ],
)
def test_resume_with_other_settings_is_refused(
    node_data, tmp_path, train_change, model_change, field
):
    ckpt = str(tmp_path / "c.pt")
    fit(make_model(), node_data, quiet(epochs=4, checkpoint=ckpt))
    with pytest.raises(ValueError, match=rf"Checkpoint {ckpt} belongs to another run \({field}"):
        fit(
            make_model(**model_change),
            node_data,
            quiet(**{"epochs": 4, "checkpoint": ckpt, **train_change}),
        )


def test_resume_with_other_model_or_data_is_refused(node_data, make_node_data, tmp_path):
    ckpt = str(tmp_path / "c.pt")
    fit(make_model(), node_data, quiet(epochs=2, checkpoint=ckpt))
    wider = SpikingGCN(8, 32, 2, 2, T=4)
    with pytest.raises(
        ValueError, match=r"convs\.0\.lin\.weight: checkpoint \[16, 8\], now \[32, 8\]"
    ):
        fit(wider, node_data, quiet(epochs=2, checkpoint=ckpt))
    other = make_node_data(seed=1)
    with pytest.raises(
        ValueError, match=r"belongs to another run \(data: checkpoint '[0-9a-f]{64}'"
    ):
        fit(make_model(), other, quiet(epochs=2, checkpoint=ckpt))
    with pytest.raises(ValueError, match=r"run\.dataset: checkpoint '<absent>', now 'X'"):
        fit(make_model(), node_data, quiet(epochs=2, checkpoint=ckpt), run_info={"dataset": "X"})


def test_mismatch_new_starts_a_new_run_beside_it(node_data, tmp_path):
    ckpt = tmp_path / "c.pt"
    first = fit(make_model(), node_data, quiet(epochs=3, checkpoint=str(ckpt)))
    assert first.checkpoint == str(ckpt)
    config = quiet(epochs=3, lr=0.05, checkpoint=str(ckpt), checkpoint_mismatch="new")
    second = fit(make_model(), node_data, config)
    assert second.checkpoint != str(ckpt)
    assert Path(second.checkpoint).name.startswith("c.cfg-") and Path(second.checkpoint).is_file()
    fresh = fit(make_model(), node_data, quiet(epochs=3, lr=0.05))
    assert second.history == fresh.history != first.history
    # The same command again resumes (here: returns) that new run.
    again = fit(make_model(seed=5), node_data, config)
    assert again.checkpoint == second.checkpoint and again.history == second.history
    assert torch.load(ckpt, weights_only=True)["identity"]["train"]["lr"] == 0.01


def test_finished_early_stopped_run_is_returned_unchanged(node_data, tmp_path):
    def constant(model, data):
        return torch.zeros(data.num_nodes, 2)

    ckpt = str(tmp_path / "c.pt")
    config = TrainConfig(epochs=50, patience=3, progress=False, checkpoint=ckpt)
    first = fit(make_model(), node_data, config, evaluate=constant)
    assert first.epochs_run == 4
    calls = []

    def step(*args):
        calls.append(1)
        return full_batch_step(*args)

    step.describe = lambda: "spikegraph.train.trainer.full_batch_step"
    for _ in range(2):
        again = fit(make_model(seed=1), node_data, config, train_step=step, evaluate=constant)
        assert calls == [] and again.history == first.history and again.epochs_run == 4


def test_kill_after_last_epoch_before_finish_does_not_train_on(node_data, tmp_path):
    # Early stop at epoch 4; a checkpoint of epoch 4 written before the run was marked
    # finished (checkpoint_every=1, killed before the final write) must stop there too.
    def constant(model, data):
        return torch.zeros(data.num_nodes, 2)

    ckpt = tmp_path / "c.pt"
    config = TrainConfig(epochs=50, patience=3, progress=False, checkpoint=str(ckpt))
    fit(make_model(), node_data, config, evaluate=constant)
    saved = torch.load(ckpt, weights_only=True)
    saved["finished"] = False
    torch.save(saved, ckpt)
    again = fit(make_model(), node_data, config, evaluate=constant)
    assert again.epochs_run == 4


def interrupt_after(step, after: int):
    calls = {"n": 0}

    def wrapped(model, data, optimizer):
        if calls["n"] == after:
            raise KeyboardInterrupt
        calls["n"] += 1
        return step(model, data, optimizer)

    wrapped.describe = step.describe if hasattr(step, "describe") else lambda: "full"
    wrapped.state_dict = step.state_dict if hasattr(step, "state_dict") else None
    if wrapped.state_dict is None:
        del wrapped.state_dict
    return wrapped


def test_bernoulli_encoder_resumes_exactly(node_data, tmp_path):
    # Spike probabilities strictly between 0 and 1, so the encoder's own generator matters.
    node_data = node_data.clone()
    node_data.x = 0.2 + 0.6 * node_data.x
    ckpt = str(tmp_path / "c.pt")
    config = quiet(epochs=5, checkpoint=ckpt, checkpoint_every=1)
    ref = fit(make_model(encoder="bernoulli"), node_data, quiet(epochs=5))
    with pytest.raises(KeyboardInterrupt):
        step = interrupt_after(full_batch_step, 2)
        step.describe = lambda: "spikegraph.train.trainer.full_batch_step"
        fit(make_model(encoder="bernoulli"), node_data, config, train_step=step)
    resumed = fit(make_model(seed=9, encoder="bernoulli"), node_data, config)
    assert resumed.history == ref.history
    assert resumed.firing_rates == ref.firing_rates


def make_loader(data, num_workers: int, sampler: str = "graphsage") -> Loader:
    options = {
        "graphsage": {"num_neighbors": [3, 3]},
        "asgcn": {"layer_sizes": [12, 12]},  # learns its sampling function as it trains
        "vrgcn": {"num_neighbors": [2, 2]},  # writes histories as it trains
    }[sampler]
    sampler = SAMPLERS[sampler](data, seed=0, **options)
    train = data.train_mask.nonzero().view(-1)
    return Loader(sampler, seeds=train, batch_size=6, shuffle=True, num_workers=num_workers, seed=0)


@pytest.mark.parametrize(
    "num_workers, sampler",
    [(0, "graphsage"), (2, "graphsage"), (0, "asgcn"), (2, "asgcn"), (0, "vrgcn"), (2, "vrgcn")],
)
def test_minibatch_resumes_exactly_for_any_num_workers(node_data, tmp_path, num_workers, sampler):
    ref = fit(
        make_model(),
        node_data,
        quiet(epochs=5),
        train_step=minibatch_step(make_loader(node_data, 0, sampler)),
    )
    ckpt = str(tmp_path / "c.pt")
    config = quiet(epochs=5, checkpoint=ckpt, checkpoint_every=1)
    step = minibatch_step(make_loader(node_data, num_workers, sampler))
    with pytest.raises(KeyboardInterrupt):
        fit(make_model(), node_data, config, train_step=interrupt_after(step, 2))
    # A new process would build a new loader and sampler: their state (the loader's
    # position, AS-GCN's sampling function, VR-GCN's histories) must come from the checkpoint.
    resumed = fit(
        make_model(seed=4),
        node_data,
        config,
        train_step=minibatch_step(make_loader(node_data, num_workers, sampler)),
    )
    assert resumed.history == ref.history
    assert (resumed.test_acc, resumed.best_epoch) == (ref.test_acc, ref.best_epoch)


def test_minibatch_checkpoint_of_another_sampler_setting_is_refused(node_data, tmp_path):
    ckpt = str(tmp_path / "c.pt")
    fit(
        make_model(),
        node_data,
        quiet(epochs=2, checkpoint=ckpt),
        train_step=minibatch_step(make_loader(node_data, 0)),
    )
    sampler = SAMPLERS["graphsage"](node_data, num_neighbors=[3, 3], seed=0)
    loader = Loader(
        sampler, seeds=node_data.train_mask.nonzero().view(-1), batch_size=7, shuffle=True, seed=0
    )
    with pytest.raises(ValueError, match=r"train_step\.batch_size: checkpoint 6, now 7"):
        fit(
            make_model(),
            node_data,
            quiet(epochs=2, checkpoint=ckpt),
            train_step=minibatch_step(loader),
        )


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        ({"lr": float("inf")}, r"'lr' must be finite, got inf"),
        ({"weight_decay": float("nan")}, r"'weight_decay' must be >= 0, got nan"),
        ({"weight_decay": float("inf")}, r"'weight_decay' must be finite, got inf"),
        ({"seed": -1}, r"'seed' must be >= 0, got -1"),
        ({"checkpoint_mismatch": "ignore"}, r"Unknown checkpoint_mismatch 'ignore'"),
    ],
)
def test_non_finite_or_bad_settings_are_refused(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        TrainConfig(**kwargs)


@pytest.mark.parametrize("kwargs", [{"epochs": 2.5}, {"lr": "0.1"}, {"patience": 1.5}])
def test_settings_of_the_wrong_type_are_refused(kwargs):
    with pytest.raises(TypeError, match=rf"'{next(iter(kwargs))}' must be"):
        TrainConfig(**kwargs)


def test_non_finite_loss_stops_the_run_naming_the_epoch(node_data, tmp_path):
    from spikegraph.train import NonFiniteLossError

    calls = {"n": 0}

    def step(model, data, optimizer):
        calls["n"] += 1
        loss = full_batch_step(model, data, optimizer)
        return float("nan") if calls["n"] == 3 else loss

    ckpt = tmp_path / "c.pt"
    with pytest.raises(NonFiniteLossError, match=r"The training loss is nan at epoch 3"):
        fit(
            make_model(),
            node_data,
            quiet(epochs=6, checkpoint=str(ckpt), checkpoint_every=1),
            train_step=step,
        )
    assert torch.load(ckpt, weights_only=True)["state"]["epoch"] == 2  # nothing NaN was saved


def test_huge_learning_rate_is_caught(node_data):
    from spikegraph.train import NonFiniteLossError

    with pytest.raises(NonFiniteLossError, match=r"loss is (nan|inf) at epoch \d+"):
        fit(make_model(dropout=0.0), node_data, quiet(epochs=30, lr=1e30))


@pytest.mark.parametrize("kind", ["folder", "under-a-file"])
def test_unwritable_checkpoint_fails_before_any_epoch(node_data, tmp_path, kind):
    target = tmp_path / "ck"
    if kind == "folder":
        target.mkdir()
        msg = rf"Checkpoint {target} is a folder"
    else:
        (tmp_path / "file").write_text("")
        target = tmp_path / "file" / "ck.pt"
        msg = rf"Checkpoint {target} cannot be written"
    calls = []

    def step(*args):
        calls.append(1)
        return full_batch_step(*args)

    with pytest.raises(ValueError, match=msg):
        fit(make_model(), node_data, quiet(epochs=2, checkpoint=str(target)), train_step=step)
    assert calls == []


def test_write_is_atomic(node_data, tmp_path, monkeypatch):
    # A failure in the middle of a write leaves the previous checkpoint intact.
    import spikegraph.train.checkpoint as ck

    path = tmp_path / "c.pt"
    fit(make_model(), node_data, quiet(epochs=2, checkpoint=str(path)))
    before = path.read_bytes()

    def broken_save(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(ck.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        ck.save_checkpoint(path, {"x": 1})
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["c.pt", "c.pt.lock"]


def test_a_second_process_on_the_same_checkpoint_is_refused(node_data, tmp_path):
    """Two runs writing one checkpoint would interleave their states: the second is refused
    while the first holds the lock, and the lock goes with the process that held it."""
    import subprocess
    import sys

    from spikegraph.train import CheckpointInUseError

    ckpt = tmp_path / "ck.pt"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from spikegraph.train.checkpoint import checkpoint_lock; "
            "lock = checkpoint_lock(Path(sys.argv[1])); lock.__enter__(); "
            "print('held', flush=True); time.sleep(60)",
            str(ckpt),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(CheckpointInUseError, match=r"ck\.pt is in use by another"):
            fit(make_model(), node_data, quiet(checkpoint=str(ckpt)))
        assert not ckpt.exists()  # refused before anything was written
    finally:
        holder.kill()
        holder.wait()
    result = fit(make_model(), node_data, quiet(checkpoint=str(ckpt)))  # the lock died with it
    assert ckpt.exists() and result.epochs_run >= 1


def test_the_lock_is_not_inherited_by_forked_workers(node_data, tmp_path):
    """A killed run's loader workers (forked while it held the lock) may outlive it for a
    few seconds; the rerun must not be refused meanwhile."""
    import subprocess
    import sys

    ckpt, pid_file = tmp_path / "ck.pt", tmp_path / "worker.pid"
    script = (
        "import os, sys, time; from pathlib import Path; "
        "from spikegraph.train.checkpoint import checkpoint_lock; "
        "lock = checkpoint_lock(Path(sys.argv[1])); lock.__enter__(); "
        "pid = os.fork()\n"
        "if pid == 0:\n    time.sleep(120); os._exit(0)\n"
        "Path(sys.argv[2]).write_text(str(pid)); os._exit(0)"  # the parent dies first
    )
    # No pipes: the forked worker would hold them open, and run() would wait for it.
    subprocess.run(
        [sys.executable, "-c", script, str(ckpt), str(pid_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    worker = int(pid_file.read_text())
    try:
        os.kill(worker, 0)  # the worker is still alive
        result = fit(make_model(), node_data, quiet(checkpoint=str(ckpt)))
        assert result.epochs_run >= 1
    finally:
        # on a loaded machine the run can outlast the worker's sleep; it is gone then
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, 9)


def test_a_checkpoint_without_epoch_times_resumes_with_those_times_unknown(node_data, tmp_path):
    """Checkpoints written before epochs were timed: their epochs' times are None."""
    from spikegraph.train import TrainingInterrupted
    from spikegraph.train.checkpoint import load_checkpoint, save_checkpoint

    calls = []

    def stops_in_epoch_3(model, data, optimizer):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return full_batch_step(model, data, optimizer)

    ckpt = tmp_path / "c.pt"
    config = quiet(epochs=4, checkpoint=str(ckpt), checkpoint_every=2)
    with pytest.raises(TrainingInterrupted):
        fit(make_model(), node_data, config, train_step=stops_in_epoch_3)
    saved = load_checkpoint(ckpt)
    assert saved["state"]["epoch"] == 2 and len(saved["state"]["epoch_times"]) == 2
    del saved["state"]["epoch_times"]
    save_checkpoint(ckpt, {k: v for k, v in saved.items() if k not in ("format", "version")})
    result = fit(make_model(), node_data, config, train_step=stops_in_epoch_3)
    assert result.epochs_run == 4 and result.epoch_times[:2] == [None, None]
    assert all(t > 0 for t in result.epoch_times[2:])
