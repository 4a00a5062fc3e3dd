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


def checkout_commit(root: Path) -> str | None:
    """The commit of the git checkout at ``root`` (``+ uncommitted changes`` when its
    tracked files differ from it, results files under ``benchmarks/results`` aside: a run
    writes them, they are not code); ``None`` when ``root`` is not a checkout or git cannot
    be run."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git(
            "status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/results"
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + (" + uncommitted changes" if dirty else "")


def source_commit() -> str | None:
    """The commit of the spikegraph checkout this code runs from (:func:`checkout_commit`);
    ``None`` outside a checkout (an installed package)."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "spikegraph" / "__init__.py").is_file():
        return None
    return checkout_commit(root)


def code_identity() -> dict[str, Any]:
    """What names the code a run was trained by: the checkout's commit
    (:func:`source_commit`) and the package versions (:func:`versions`)."""
    return {"commit": source_commit(), "versions": versions()}


__all__ = ["checkout_commit", "code_identity", "source_commit", "versions"]
