"""A mini-batch run on arxiv-like data (OGB's layout, ogb's loader, layer-wise evaluation),
SIGKILLed mid-run and started again, resumes from its last checkpoint without processing
the dataset again, without re-drawing finished epochs' batches and without recomputing the
sampler's preprocessing, and writes the record of the run never interrupted."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import spikegraph.datasets.ogb as ogb_module
import spikegraph.samplers.base as sampler_base
import spikegraph.samplers.loader as sampler_loader
from spikegraph.cli import main
from spikegraph.datasets.synthetic import make_dataset

ROOT = Path(__file__).resolve().parents[2]
EPOCHS = 4
#: What differs between two runs of the same configuration: timings, memory, paths, dates.
VOLATILE = {"time_per_epoch", "inference_time", "checkpoint", "preprocess_time", "peak_rss_mb"}
VOLATILE |= {"preprocess_cached"}  # a resumed run finds the sampler's cache the first filled
VOLATILE |= {"epoch_times"}
VOLATILE |= {"resumed_from"}  # the resumed run names the checkpoint it resumed from
VOLATILE |= {"date", "machine", "command", "time_per_epoch_mean", "preprocess_time_mean"}


def stable(record):
    """The record without what legitimately differs between two runs."""
    if isinstance(record, dict):
        return {k: stable(v) for k, v in record.items() if k not in VOLATILE}
    if isinstance(record, list):
        return [stable(v) for v in record]
    return record


@pytest.fixture(scope="module")
def arxiv_like(tmp_path_factory):
    root = tmp_path_factory.mktemp("arxiv-like")
    make_dataset("ogbn-arxiv", root, seed=0, scale=0.005, progress=False)
    return root


def argv(root: Path, sampler: str, ckpt: Path, out: Path) -> list[str]:
    args = ["train", "--dataset", "ogbn-arxiv", "--root", str(root), "--model", "sgcn"]
    args += ["--hidden", "8", "--T", "2", "--sampler", sampler, "--eval", "layerwise"]
    args += ["--eval-batch-size", "300", "--epochs", str(EPOCHS), "--patience", "100"]
    args += ["--checkpoint", str(ckpt), "--checkpoint-every", "1", "--json", str(out)]
    if sampler == "graphsage":
        args += ["--batch-size", "128"]
    return [*args, "--no-progress"]


@pytest.mark.parametrize("sampler", ["graphsage", "graphsaint-rw"])
def test_killed_minibatch_run_resumes_to_the_uninterrupted_record(
    arxiv_like, tmp_path, sampler, monkeypatch
):
    ref_out = tmp_path / "ref.json"
    assert main(argv(arxiv_like, sampler, tmp_path / "ref.pt", ref_out)) == 0
    reference = json.loads(ref_out.read_text())

    ckpt, out = tmp_path / "ck.pt", tmp_path / "out.json"
    # An epoch takes a few milliseconds here, so the whole run could end in the moments
    # between the first checkpoint and the kill (seen in CI: the kill found epoch 4 of 4).
    # The child holds every checkpoint write after the first for a second, so the kill lands
    # in the second epoch, before its checkpoint.
    code = (
        f"import sys, time, torch; torch.set_num_threads({torch.get_num_threads()})\n"
        "import spikegraph.train.trainer as trainer\n"
        "save, saves = trainer.save_checkpoint, []\n"
        "def held(path, payload):\n"
        "    saves.append(path)\n"
        "    if len(saves) > 1:\n"
        "        time.sleep(1.0)\n"
        "    save(path, payload)\n"
        "trainer.save_checkpoint = held\n"
        "from spikegraph.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", code, *argv(arxiv_like, sampler, ckpt, out)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    saved = ckpt.with_name("ck.seed0.pt")
    deadline = time.monotonic() + 120
    while not saved.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(random.uniform(0, 0.05))  # somewhere in the next epoch, before its checkpoint
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stderr.read()[-2000:]
    epoch = torch.load(saved, weights_only=True)["state"]["epoch"]
    assert epoch == 1 and not out.exists()

    # Started again: count what it recomputes.
    built, drawn, cached = [], [], []
    real_build, real_item = ogb_module._build, sampler_loader._PlannedBatches.__getitem__
    real_load = sampler_base.Sampler._load_cache
    monkeypatch.setattr(ogb_module, "_build", lambda *a: built.append(1) or real_build(*a))
    monkeypatch.setattr(
        sampler_loader._PlannedBatches,
        "__getitem__",
        lambda self, i: drawn.append(i) or real_item(self, i),
    )
    monkeypatch.setattr(
        sampler_base.Sampler, "_load_cache", lambda *a: cached.append(1) or real_load(*a)
    )
    assert main(argv(arxiv_like, sampler, ckpt, out)) == 0
    resumed = json.loads(out.read_text())
    assert stable(resumed) == stable(reference)
    assert not built, "the dataset was processed again"
    per_epoch = reference["runs"][0]["batches_per_epoch"]
    assert len(drawn) == (EPOCHS - epoch) * per_epoch, "finished epochs' batches were redrawn"
    if sampler == "graphsaint-rw":  # its norm estimation came from the cache
        assert cached, "the sampler's preprocessing was recomputed"
