"""A tiny training run, in-process or as a child process that the kill tests SIGKILL.

``python -m tests.train.kill_child MODE CHECKPOINT NUM_WORKERS CRASH`` trains and prints
``epoch`` after every epoch (sleeping a little, so a kill lands mid-run). ``CRASH`` is
``none``, or ``save:K`` / ``replace:K``: die (``os._exit``) in the middle of the K-th
checkpoint write, after half the bytes went out / just before the temporary file replaces
the checkpoint.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import torch

EPOCHS = 40


def run(mode: str, checkpoint: str | None, num_workers: int = 0, slow: bool = False) -> dict:
    """Train and return the result record without its wall-clock timings and paths."""
    from spikegraph.models import SpikingGCN
    from spikegraph.samplers import GraphSAGESampler, Loader
    from spikegraph.train import TrainConfig, fit, full_batch_step
    from spikegraph.train.minibatch import minibatch_step
    from tests.conftest import synthetic_node_data

    data = synthetic_node_data(num_nodes=60)
    data.x = 0.2 + 0.6 * data.x  # Bernoulli spikes that are really random
    torch.manual_seed(0)
    model = SpikingGCN(8, 16, 2, 2, dropout=0.3, T=4, encoder="bernoulli")
    if mode == "mini":
        sampler = GraphSAGESampler(data, num_neighbors=[3, 3], seed=0)
        train = data.train_mask.nonzero().view(-1)
        loader = Loader(
            sampler, seeds=train, batch_size=8, shuffle=True, num_workers=num_workers, seed=0
        )
        inner: Any = minibatch_step(loader)
    else:
        inner = full_batch_step

    class Step:
        """The inner step, announcing each epoch (and slowed down in the child)."""

        def __call__(self, *args):
            loss = inner(*args)
            if slow:
                print("epoch", flush=True)
                time.sleep(0.01)
            return loss

        def __getattr__(self, name):
            return getattr(inner, name)

        def describe(self):
            from spikegraph.train.trainer import describe

            return describe(inner)

    config = TrainConfig(
        epochs=EPOCHS, patience=None, progress=False, checkpoint=checkpoint, checkpoint_every=1
    )
    result = fit(model, data, config, train_step=Step()).to_dict(history=True)
    # every epoch, finished before or after a resume, keeps its (wall-clock) training time
    times = result.pop("epoch_times")
    assert len(times) == len(result["history"]) and all(t > 0 for t in times), times
    for key in ("time_per_epoch", "inference_time", "checkpoint", "resumed_from"):
        result.pop(key, None)
    result["config"].pop("checkpoint")
    return result


def crash_on(kind: str, k: int) -> None:
    """Make the k-th checkpoint write die half-way (``save``) or before its rename."""
    import spikegraph.train.checkpoint as ck

    calls = {"n": 0}
    real_save, real_replace = ck.torch.save, ck.os.replace

    def save(obj, f):
        calls["n"] += 1
        if kind == "save" and calls["n"] == k:
            real_save(obj, f)
            f.flush()
            f.truncate(f.tell() // 2)
            f.flush()
            os._exit(9)
        real_save(obj, f)

    def replace(src, dst):
        if kind == "replace" and calls["n"] == k:
            os._exit(9)
        real_replace(src, dst)

    ck.torch.save = save
    ck.os.replace = replace


if __name__ == "__main__":
    torch.set_num_threads(1)
    mode, ckpt, workers, crash = sys.argv[1:5]
    if crash != "none":
        kind, k = crash.split(":")
        crash_on(kind, int(k))
    run(mode, ckpt, int(workers), slow=True)
    print("done", flush=True)
