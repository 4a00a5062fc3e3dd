"""The sampler zoo: the graph sampling methods of the survey by Liu et al. (2022) for PyG.

Every sampler returns the same :class:`Batch` (blocks, input layer first), works on a plain
``pip install torch-geometric`` (no pyg-lib, no torch-sparse), and is driven by one generic
:class:`Loader`. It imports nothing else from ``spikegraph``.

The repository keeps it in its top-level ``samplers/`` folder and installs it as
``spikegraph.samplers``; there is no top-level ``samplers`` package (a user's own
``samplers.py`` stays theirs). From a source checkout, whose root is on ``sys.path``, the
folder could also be found as ``samplers``: that old name fails with a
:class:`ModuleNotFoundError` that says what to import instead, so no module of the zoo is
ever loaded twice (two copies would hold two different ``Sampler`` and ``Batch`` classes).
"""

if __name__ != "spikegraph.samplers":
    raise ModuleNotFoundError(
        f"the sampler zoo is no longer importable as {__name__!r}: it is "
        "'spikegraph.samplers' (e.g. `from spikegraph.samplers import GraphSAGESampler`)",
        name=__name__,
    )

from .asgcn import ASGCNSampler
from .base import NodeSampler, Sampler, SubgraphSampler
from .batch import (
    MODES,
    Batch,
    BatchContractError,
    Block,
    check_block_count,
    default_mode,
    resolve_mode,
)
from .cluster import ClusterGCNSampler, metis_partition
from .fastgcn import FastGCNSampler
from .graphsage import GraphSAGESampler
from .ladies import LADIESSampler
from .loader import Loader
from .pinsage import PinSAGESampler
from .pyg import PyGSampler
from .ripple import RippleWalkSampler
from .saint import (
    GraphSAINTEdgeSampler,
    GraphSAINTNodeSampler,
    GraphSAINTRandomWalkSampler,
    GraphSAINTSampler,
)
from .shadow import ShaDowSampler
from .vrgcn import VRGCNSampler

#: Command-line name -> sampler class: the :class:`~spikegraph.samplers.base.Registry` of
#: :class:`Sampler` (``Sampler.registry``), which a sampler class joins by a name in its
#: class statement (``class MySampler(NodeSampler, name="mysampler")``, in a file of its
#: own); a name that is taken is refused. The built-ins come first, in this order (the
#: command line's).
SAMPLERS = Sampler.registry
for _cls in (
    GraphSAGESampler,
    PinSAGESampler,
    ClusterGCNSampler,
    GraphSAINTNodeSampler,
    GraphSAINTEdgeSampler,
    GraphSAINTRandomWalkSampler,
    ShaDowSampler,
    RippleWalkSampler,
    FastGCNSampler,
    LADIESSampler,
    VRGCNSampler,
    ASGCNSampler,
):
    # each built-in registered itself on import (in import order); here it moves to its
    # place in the command line's order
    SAMPLERS.pop(_cls.name)
    SAMPLERS[_cls.name] = _cls
del _cls

__all__ = [
    "MODES",
    "SAMPLERS",
    "ASGCNSampler",
    "Batch",
    "BatchContractError",
    "Block",
    "ClusterGCNSampler",
    "FastGCNSampler",
    "GraphSAGESampler",
    "GraphSAINTEdgeSampler",
    "GraphSAINTNodeSampler",
    "GraphSAINTRandomWalkSampler",
    "GraphSAINTSampler",
    "LADIESSampler",
    "Loader",
    "NodeSampler",
    "PinSAGESampler",
    "PyGSampler",
    "RippleWalkSampler",
    "Sampler",
    "ShaDowSampler",
    "SubgraphSampler",
    "VRGCNSampler",
    "check_block_count",
    "default_mode",
    "metis_partition",
    "resolve_mode",
]
