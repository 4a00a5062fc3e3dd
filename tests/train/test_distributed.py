"""Data-parallel training under ``torchrun`` (gloo, CPU): two processes on one machine and
two one-process "machines" joined by a c10d rendezvous on localhost. Each checks that the
record is written once (by rank 0), that both processes end with identical weights that
training changed, and that their shards of every epoch are disjoint and cover the seeds.
The environment parsing of :mod:`spikegraph.train.distributed` is tested without processes.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from spikegraph.train.distributed import (
    DistributedEnv,
    DistributedError,
    backend_for,
    device_for,
    from_environ,
)

REPO = Path(__file__).resolve().parents[2]
CHILD = REPO / "tests" / "train" / "dist_child.py"


def _gloo() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_gloo_available()


needs_gloo = pytest.mark.skipif(
    not _gloo(), reason="torch.distributed with the gloo backend is not available"
)
needs_torchrun = pytest.mark.skipif(
    shutil.which("torchrun") is None and not _gloo(), reason="torchrun is not installed"
)


def _torchrun() -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run"]


def _env(out: Path, data_root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]),
        DIST_OUT=str(out),
        SPIKEGRAPH_DATA=str(data_root),
        OMP_NUM_THREADS="1",
    )
    return env


def _train_args(out: Path, *extra: str) -> list[str]:
    return [
        "train", "--dataset", "Cora", "--epochs", "2", "--sampler", "graphsage",
        "--batch-size", "32", "--no-progress", "--json", str(out / "rec.json"),
        "--checkpoint", str(out / "ck.pt"), *extra,
    ]  # fmt: skip


def _check_run(out: Path, outputs: str) -> None:
    """One record (rank 0's), one checkpoint holding the world size, identical trained
    weights and disjoint shards that cover the seeds on both ranks."""
    record = json.loads((out / "rec.json").read_text())
    assert record["machine"]["world_size"] == 2
    assert outputs.count("test accuracy") == 1, outputs  # only rank 0 reports
    assert sorted(p.name for p in out.glob("*.json")) == ["rec.json"]
    ckpt = torch.load(out / "ck.seed0.pt", weights_only=True)
    assert ckpt["world_size"] == 2 and ckpt["identity"]["world_size"] == 2
    assert len(ckpt["rng_ranks"]) == 2
    # each process's loader and sampler state, which it resumes from
    assert [s["loader"]["sampler"] for s in ckpt["train_step_ranks"]] == [{}, {}]
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for key, value in ranks[0]["after"].items():
        assert torch.equal(value, ranks[1]["after"][key]), key
    changed = [k for k, v in ranks[0]["after"].items() if not torch.equal(v, ranks[0]["before"][k])]
    assert changed  # trained, so identical weights are DDP's doing
    seeds = ranks[0]["seeds"]
    for epoch in (0, 1):
        a, b = (r["shards"][epoch] for r in ranks)
        assert a.numel() == b.numel() == seeds.numel() // 2  # 140 seeds: no padding
        assert not set(a.tolist()) & set(b.tolist())
        assert set(a.tolist()) | set(b.tolist()) == set(seeds.tolist())
    assert not torch.equal(ranks[0]["shards"][0], ranks[0]["shards"][1])


@needs_gloo
@needs_torchrun
@pytest.mark.slow
def test_two_processes_on_one_machine(tmp_path, cora_raw, data_root, capsys):
    cmd = [
        *_torchrun(),
        "--standalone",
        "--nproc-per-node",
        "2",
        str(CHILD),
        *_train_args(tmp_path),
    ]
    proc = subprocess.run(
        cmd, env=_env(tmp_path, data_root), capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    _check_run(tmp_path, proc.stdout + proc.stderr)

    # The checkpoint holds world size 2: one process resuming it is refused, by name.
    from spikegraph.cli import main

    with pytest.MonkeyPatch.context() as mp:
        for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
            mp.delenv(name, raising=False)
        mp.setenv("SPIKEGRAPH_DATA", str(data_root))
        capsys.readouterr()
        code = main(_train_args(tmp_path))
    assert code == 2
    assert "world_size" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@needs_gloo
@needs_torchrun
@pytest.mark.slow
def test_two_machines_one_rendezvous_on_localhost(tmp_path, cora_raw, data_root):
    port, env = _free_port(), _env(tmp_path, data_root)
    launchers = [
        subprocess.Popen(
            [
                *_torchrun(),
                "--nnodes",
                "2",
                "--node-rank",
                str(node),
                "--nproc-per-node",
                "1",
                "--rdzv-backend",
                "c10d",
                "--rdzv-endpoint",
                f"localhost:{port}",
                "--rdzv-id",
                f"spikegraph-test-{port}",
                str(CHILD),
                *_train_args(tmp_path, "--mode", "blocks"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for node in (0, 1)
    ]
    outputs = []
    try:
        for proc in launchers:
            outputs.append(proc.communicate(timeout=240)[0])
    finally:
        for proc in launchers:
            proc.kill()
    assert [p.returncode for p in launchers] == [0, 0], "\n".join(outputs)[-3000:]
    _check_run(tmp_path, "\n".join(outputs))


def test_environment_outside_torchrun_is_none():
    assert from_environ({}) is None
    env = from_environ({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "0"})
    assert env == DistributedEnv(rank=1, world_size=2, local_rank=0) and not env.is_main


@pytest.mark.parametrize(
    "environ, msg",
    [
        ({"WORLD_SIZE": "2", "LOCAL_RANK": "0"}, r"WORLD_SIZE is set but RANK is not"),
        ({"RANK": "x", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}, r"RANK='x' is not an int"),
        ({"RANK": "2", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}, r"RANK=2, WORLD_SIZE=2"),
    ],
)
def test_malformed_environment_is_refused(environ, msg):
    with pytest.raises(DistributedError, match=msg):
        from_environ(environ)


def test_backend_and_device_follow_the_device():
    env = DistributedEnv(rank=3, world_size=4, local_rank=1)
    assert backend_for("cpu") == "gloo" and backend_for("cuda:1") == "nccl"
    assert device_for("cuda", env) == "cuda:1"
    assert device_for("cpu", env) == "cpu" and device_for("cuda", None) == "cuda"


def test_full_batch_training_under_torchrun_is_refused(monkeypatch):
    from spikegraph.experiments import run_node_classification

    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    with pytest.raises(ValueError, match=r"2 processes for full-batch training.*--sampler"):
        run_node_classification("Cora", "gcn")
