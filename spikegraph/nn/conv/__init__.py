"""Spiking message-passing layers."""

from spikegraph.nn.conv.gat import SpikingAttentionConv, SpikingGATConv
from spikegraph.nn.conv.gatv2 import SpikingGATv2Conv
from spikegraph.nn.conv.gcn import SpikingGCNConv, bipartite_gcn_norm
from spikegraph.nn.conv.spiking import SpikingMessagePassing

__all__ = [
    "SpikingAttentionConv",
    "SpikingGATConv",
    "SpikingGATv2Conv",
    "SpikingGCNConv",
    "SpikingMessagePassing",
    "bipartite_gcn_norm",
]
