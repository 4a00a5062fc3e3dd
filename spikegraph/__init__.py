"""spikegraph: spiking graph neural networks for PyTorch Geometric."""

__version__ = "0.1.0"
