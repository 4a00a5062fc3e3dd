"""The sampler zoo: the graph sampling methods of the survey by Liu et al. (2022) for PyG.

Every sampler returns the same :class:`Batch` (blocks, input layer first), works on a plain
``pip install torch-geometric`` (no pyg-lib, no torch-sparse), and is driven by one generic
:class:`Loader`. This package imports nothing from ``spikegraph``.
"""

from samplers.base import NodeSampler, Sampler, SubgraphSampler
from samplers.batch import Batch, Block
from samplers.cluster import ClusterGCNSampler, metis_partition
from samplers.graphsage import GraphSAGESampler
from samplers.loader import Loader
from samplers.pinsage import PinSAGESampler
from samplers.pyg import PyGSampler
from samplers.ripple import RippleWalkSampler
from samplers.saint import (
    GraphSAINTEdgeSampler,
    GraphSAINTNodeSampler,
    GraphSAINTRandomWalkSampler,
    GraphSAINTSampler,
)
from samplers.shadow import ShaDowSampler

#: Command-line name -> sampler class.
SAMPLERS: dict[str, type[Sampler]] = {
    cls.name: cls
    for cls in (
        GraphSAGESampler,
        PinSAGESampler,
        ClusterGCNSampler,
        GraphSAINTNodeSampler,
        GraphSAINTEdgeSampler,
        GraphSAINTRandomWalkSampler,
        ShaDowSampler,
        RippleWalkSampler,
    )
}

__all__ = [
    "SAMPLERS",
    "Batch",
    "Block",
    "ClusterGCNSampler",
    "GraphSAGESampler",
    "GraphSAINTEdgeSampler",
    "GraphSAINTNodeSampler",
    "GraphSAINTRandomWalkSampler",
    "GraphSAINTSampler",
    "Loader",
    "NodeSampler",
    "PinSAGESampler",
    "PyGSampler",
    "RippleWalkSampler",
    "Sampler",
    "ShaDowSampler",
    "SubgraphSampler",
    "metis_partition",
]
