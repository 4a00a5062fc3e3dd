"""Spiking neurons, encoders, normalisation and graph layers."""

from spikegraph.nn.conv import (
    SpikingGATConv,
    SpikingGATv2Conv,
    SpikingGCNConv,
    SpikingMessagePassing,
)
from spikegraph.nn.encoding import (
    ENCODERS,
    BernoulliEncoder,
    CurrentEncoder,
    DirectEncoder,
    Encoder,
    make_encoder,
)
from spikegraph.nn.neurons import NEURONS, SpikingNeuron
from spikegraph.nn.neurons.lif import LIF, lif_multistep, lif_rate, lif_step
from spikegraph.nn.norm import NORMS, SpikingNorm, make_norm
from spikegraph.nn.readout import READOUTS, MembraneReadout, RateReadout, Readout
from spikegraph.nn.stfn import STFN, stfn
from spikegraph.nn.surrogate import SURROGATES, ArcTan, Rectangular, Sigmoid, Surrogate, Triangle
from spikegraph.nn.tdbn import TemporalBatchNorm

__all__ = [
    "ENCODERS",
    "LIF",
    "NEURONS",
    "NORMS",
    "READOUTS",
    "STFN",
    "SURROGATES",
    "ArcTan",
    "BernoulliEncoder",
    "CurrentEncoder",
    "DirectEncoder",
    "Encoder",
    "MembraneReadout",
    "RateReadout",
    "Readout",
    "Rectangular",
    "Sigmoid",
    "SpikingGATConv",
    "SpikingGATv2Conv",
    "SpikingGCNConv",
    "SpikingMessagePassing",
    "SpikingNeuron",
    "SpikingNorm",
    "Surrogate",
    "TemporalBatchNorm",
    "Triangle",
    "lif_multistep",
    "lif_rate",
    "lif_step",
    "make_encoder",
    "make_norm",
    "stfn",
]
