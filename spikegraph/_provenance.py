"""What names the code a result was made by: the checkout's commit and the package
versions. A module of the lowest layer, so that every layer (the trainer's checkpoints, the
experiments' records) names code the same way."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch


def versions() -> dict[str, str]:
    """Versions of the packages a result depends on."""
    import spikegraph

    out = {"spikegraph": spikegraph.__version__, "python": platform.python_version()}
    for name in ("torch", "torch_geometric", "numpy", "scipy", "scikit-learn", "numba"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["torch"] = torch.__version__
    return out


def source_commit() -> str | None:
    """The commit of the spikegraph checkout this code runs from (``+ uncommitted changes``
    when its tracked files differ, results files aside); ``None`` outside a checkout."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        if not (root / "spikegraph" / "__init__.py").is_file():
            return None
        commit = git("rev-parse", "HEAD")
        dirty = git(
            "status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/results"
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + (" + uncommitted changes" if dirty else "")


def code_identity() -> dict[str, Any]:
    """What names the code a run was trained by: the checkout's commit
    (:func:`source_commit`) and the package versions (:func:`versions`)."""
    return {"commit": source_commit(), "versions": versions()}


__all__ = ["code_identity", "source_commit", "versions"]
