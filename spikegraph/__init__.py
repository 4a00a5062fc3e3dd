"""spikegraph: spiking graph neural networks for PyTorch Geometric.

The sampler zoo is :mod:`spikegraph.samplers` (the repository's top-level ``samplers/``
folder, installed under this package).
"""

from pathlib import Path as _Path

from spikegraph import _checkout

__version__ = "0.1.0"

_checkout.install(_Path(__file__).resolve().parent)
