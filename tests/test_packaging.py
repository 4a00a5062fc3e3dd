"""Packaging: what an install pulls in, license metadata, the wheel, and `spikegraph bench`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_importing_the_package_does_not_import_scikit_learn():
    """scikit-learn is not a dependency (it was used for one accuracy only)."""
    code = (
        "import sys, spikegraph, spikegraph.train, spikegraph.cli, spikegraph.datasets; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"
