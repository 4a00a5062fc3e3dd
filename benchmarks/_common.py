"""Shared plumbing of the benchmark scripts: configs, result files, timing."""

from __future__ import annotations

import json
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from spikegraph.train import machine_info

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CONFIGS = HERE / "configs"


def load_config(name: str = "node_classification") -> dict[str, Any]:
    """Read ``benchmarks/configs/<name>.toml``."""
    with open(CONFIGS / f"{name}.toml", "rb") as fh:
        return tomllib.load(fh)


def model_config(config: dict[str, Any], model: str, dataset: str) -> tuple[dict, dict]:
    """``(model_options, train_options)`` for ``model`` on ``dataset``.

    A ``[model]`` table gives defaults for every dataset (sub-tables ``model`` and ``train``);
    ``[model.Dataset]`` overrides them.
    """
    base = config.get(model, {})
    specific = base.get(dataset, {})
    model_opts = {**base.get("model", {}), **specific.get("model", {})}
    train_opts = {**base.get("train", {}), **specific.get("train", {})}
    return model_opts, train_opts


def provenance() -> dict[str, Any]:
    """The command, machine and date a result was obtained with."""
    return {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "machine": machine_info(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def write_results(
    stem: str, record: dict[str, Any], markdown: str, out_dir: Path = RESULTS
) -> None:
    """Write ``<stem>.json`` and ``<stem>.md`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(record, indent=2) + "\n")
    (out_dir / f"{stem}.md").write_text(markdown)
    print(f"wrote {out_dir / stem}.json and .md")


def provenance_md(prov: dict[str, Any]) -> str:
    m = prov["machine"]
    return (
        f"- command: `{prov['command']}`\n"
        f"- machine: {m['platform']}, {m['processor']}, {m['cpu_count']} CPUs "
        f"({m['torch_threads']} torch threads), Python {m['python']}, torch {m['torch']}\n"
        f"- date: {prov['date']}\n"
    )


def interleaved_times(
    fns: dict[str, Callable[[], Any]], rounds: int, warmup: int = 2
) -> dict[str, list[float]]:
    """Time each function ``rounds`` times, interleaving them round by round so that slow
    phases of a noisy machine hit all of them alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)
