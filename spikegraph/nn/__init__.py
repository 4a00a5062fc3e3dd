"""Spiking neurons, encoders, normalisation and graph layers."""

from spikegraph.nn.conv import (
    SpikingGATConv,
    SpikingGATv2Conv,
    SpikingGCNConv,
    SpikingMessagePassing,
)
from spikegraph.nn.encoding import BernoulliEncoder, CurrentEncoder, DirectEncoder, make_encoder
from spikegraph.nn.neurons import NEURONS, SpikingNeuron
from spikegraph.nn.neurons.lif import LIF, lif_multistep, lif_rate, lif_step
from spikegraph.nn.stfn import STFN, stfn
from spikegraph.nn.surrogate import SURROGATES, ArcTan, Rectangular, Sigmoid, Surrogate, Triangle
from spikegraph.nn.tdbn import TemporalBatchNorm

__all__ = [
    "LIF",
    "NEURONS",
    "STFN",
    "SURROGATES",
    "ArcTan",
    "BernoulliEncoder",
    "CurrentEncoder",
    "DirectEncoder",
    "Rectangular",
    "Sigmoid",
    "SpikingGATConv",
    "SpikingGATv2Conv",
    "SpikingGCNConv",
    "SpikingMessagePassing",
    "SpikingNeuron",
    "Surrogate",
    "TemporalBatchNorm",
    "Triangle",
    "lif_multistep",
    "lif_rate",
    "lif_step",
    "make_encoder",
    "stfn",
]
