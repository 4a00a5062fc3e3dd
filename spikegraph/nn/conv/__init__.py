"""Spiking message-passing layers."""

from spikegraph.nn.conv.gat import SpikingGATConv
from spikegraph.nn.conv.gcn import SpikingGCNConv, bipartite_gcn_norm
from spikegraph.nn.conv.spiking import SpikingMessagePassing

__all__ = ["SpikingGATConv", "SpikingGCNConv", "SpikingMessagePassing", "bipartite_gcn_norm"]
