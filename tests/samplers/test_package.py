"""The sampler zoo stands alone: importing it pulls in nothing from spikegraph."""

from __future__ import annotations

import subprocess
import sys


def test_samplers_import_nothing_from_spikegraph():
    code = (
        "import sys, samplers, samplers.pyg\n"
        "bad = [m for m in sys.modules if m.split('.')[0] == 'spikegraph']\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
