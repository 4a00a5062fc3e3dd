"""Shared skeleton of spikegraph's spiking GNN models, shaped like PyG's ``BasicGNN``."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.nn.dense.linear import Linear
from torch_geometric.nn.models import JumpingKnowledge
from torch_geometric.typing import Adj, OptTensor

from spikegraph._validation import (
    check_channels,
    check_choice,
    check_node_input,
    check_time_steps,
)
from spikegraph.models.head import MLPHead
from spikegraph.nn.conv.gcn import bipartite_gcn_norm
from spikegraph.nn.conv.spiking import SpikingMessagePassing
from spikegraph.nn.dropout import temporal_dropout
from spikegraph.nn.encoding import make_encoder
from spikegraph.nn.neurons import SpikingNeuron, neuron_option_names
from spikegraph.nn.readout import READOUTS, build_readout
from spikegraph.samplers import BatchContractError, Block, check_block_count
from spikegraph.samplers.history import (
    control_variate_input,
    noise_aggregate,
    uses_dropout_variate,
)
from spikegraph.samplers.skip import skip_term

#: Jumping-knowledge modes of :class:`SpikingBasicGNN` (PyG's, less ``"lstm"``).
JK_MODES = ("last", "cat", "max")
SPARSE_INPUT_DENSITY = 0.1
#: The feature dtypes a first layer takes as sparse CSR input (``sparse_input``): torch's
#: sparse CSR matrix product on the CPU (MKL's) has no float16 or bfloat16 kernel, so
#: half-precision features stay dense.
SPARSE_INPUT_DTYPES = (torch.float32, torch.float64)


def count_nonzero_fraction(x: Tensor) -> float:
    """Fraction of nonzero entries of ``x``."""
    return float(torch.count_nonzero(x)) / max(x.numel(), 1)


def final_target_rows(blocks: Sequence[Block], i: int) -> Tensor | int:
    """Rows of layer ``i``'s output (block ``i``'s targets) that hold the last block's
    targets, in order: an index tensor, or an int ``n`` for the first ``n`` rows.

    Raises:
        BatchContractError: a last-block target has no row there (a layer-wise chain whose
            lower layer does not hold it).
    """
    idx: Tensor | None = None
    for j in range(len(blocks) - 1, i, -1):
        dst_index = getattr(blocks[j], "dst_index", None)
        if dst_index is None:
            continue  # targets are the first sources: the same rows
        idx = dst_index if idx is None else dst_index[idx]
        if bool((idx < 0).any()):
            raise BatchContractError(
                f"block {j}'s targets are not all among its sources, so layer {i}'s output "
                "has no row for some of the last block's targets (jumping knowledge needs one)"
            )
    return blocks[-1].size[1] if idx is None else idx


def _same_content(a: Tensor, b: Tensor) -> bool:
    """Whether two strided tensors hold the same values (same shape, dtype and device)."""
    return (
        a.shape == b.shape
        and a.dtype == b.dtype
        and a.device == b.device
        and bool(torch.equal(a, b.detach()))
    )


class _LiveNames(Sequence):
    """A read-only sequence of names that ``compute`` gives anew on every use, so that it
    stays right when a registry grows after import (``in``, iteration, indexing, ``len``;
    equal to the tuple of the same names)."""

    def __init__(self, compute: Callable[[], tuple[str, ...]]) -> None:
        self._compute = compute

    def __getitem__(self, index: Any) -> Any:
        return self._compute()[index]

    def __len__(self) -> int:
        return len(self._compute())

    def __iter__(self) -> Iterator[str]:
        return iter(self._compute())

    def __contains__(self, name: object) -> bool:
        return name in self._compute()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (tuple, _LiveNames)):
            return self._compute() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # its value changes

    def __repr__(self) -> str:
        return repr(self._compute())


def _neuron_options() -> tuple[str, ...]:
    return ("norm", "rho", "neuron", "neuron_kwargs", *neuron_option_names())


#: The spiking models' options for their neurons and normalisation: ``norm``, ``rho``,
#: ``neuron``, ``neuron_kwargs`` and every option of a registered neuron (read from
#: :data:`~spikegraph.nn.neurons.NEURONS` on every use, so a neuron registered after import
#: counts; ``tuple(NEURON_OPTIONS)`` takes the names of the moment).
NEURON_OPTIONS = _LiveNames(_neuron_options)

#: The neuron and normalisation of GC-SNN / GA-SNN (Xu et al., IJCAI 2021): STFN before
#: leaky neurons (``tau=2``) with hard reset. The classes' defaults are validated ones (no
#: normalisation; :class:`SpikingGCN` leaky ``tau=4`` hard-reset neurons, :class:`SpikingGAT`
#: integrate-and-fire with soft reset); ``SpikingGCN(..., **PAPER_NEURON)``,
#: :meth:`SpikingBasicGNN.with_paper_neuron` or the registry's ``"stfn-sgcn"`` /
#: ``"stfn-sgat"`` give the paper's.
PAPER_NEURON = {"norm": "stfn", "tau": 2.0, "reset": "hard"}


class SpikingBasicGNN(nn.Module):
    """A stack of spiking graph layers with an encoder and a readout.

    Subclasses implement :meth:`init_conv`. The hidden layers are spiking; the output layer
    depends on ``readout``:

    - ``"membrane"``: the output layer has no neuron and no normalisation; the logits are its
      synaptic current averaged over the ``T`` steps (the average membrane potential of a
      non-leaky, non-firing read-out neuron, divided by ``T``).
    - ``"rate"``: the output layer spikes like the others; the logits are its firing rates
      (spike counts over ``T``), the rate decoding of GC-SNN.

    With ``head_channels`` set, the output layer is ``hidden_channels`` wide and a small MLP
    (:class:`~spikegraph.models.head.MLPHead`) maps the readout's output to the logits: the
    head of the journal version of GC-SNN / GA-SNN. Every layer spiking (``"rate"``) with
    ``norm="stfn"`` is the paper's model: from the second layer on, STFN normalises a current
    that changes over the steps.

    Args:
        in_channels: Input width, or ``-1`` for lazy initialisation.
        hidden_channels: Hidden width.
        num_layers: Number of graph layers.
        out_channels: Output width (number of classes); ``hidden_channels`` when ``None``.
        dropout: Dropout on the spikes between layers, one mask for all time steps
            (:func:`~spikegraph.nn.dropout.temporal_dropout`); 0.5 by default (PyG's
            ``GCN`` has 0.0; its example scripts use 0.5).
        T: Number of time steps static features are encoded for; a spike train input
            ``[T', N, F]`` runs over its own ``T'`` steps.
        encoder: An encoder of :data:`~spikegraph.nn.encoding.ENCODERS`: ``"max-scaled"``
            (default: each node's features divided by their largest magnitude and fed at every
            step, so binary features pass unchanged and row-normalised ones, as from PyG's
            ``NormalizeFeatures``, give the same input; chosen on validation accuracy,
            ``benchmarks/results/class_defaults_encoding.md``), ``"auto"`` (features fed
            unchanged at every step), ``"direct"`` (binary features as spikes,
            checked), ``"current"``, ``"bernoulli"`` (rate coding) or ``"rank-order"``
            (one spike per active feature, earlier for larger values).
        readout: A readout of :data:`~spikegraph.nn.readout.READOUTS` (``"membrane"`` or
            ``"rate"``, see above); the model calls it as the module :attr:`decoder`.
        input_dropout: Dropout on the encoded input (0.5 by default).
        encoder_seed: Seed of the Bernoulli encoder.
        sparse_input: Feed static features to the first layer as a sparse CSR tensor:
            ``None`` (default) when at most 10% of them are nonzero, ``True`` always,
            ``False`` never. Results are the same up to float rounding; only speed differs.
            Only float32 and float64 features (:data:`SPARSE_INPUT_DTYPES`): float16 and
            bfloat16 ones stay dense with ``None``, and ``True`` raises for them.
        act: PyG's activation argument. A spiking model's activation is its neuron (set with
            ``neuron``), so only ``None`` (the default: the neurons) is accepted; anything
            else raises.
        act_first: Only ``False``: the normalisation (``norm``) acts on the synaptic current
            before the neurons, which is PyG's ``act_first=False`` order.
        act_kwargs: Only ``None`` (see ``act``).
        norm_kwargs: Only ``None``: the normalisation takes its options by name (``rho``).
        jk: Jumping knowledge over the layers, as PyG's ``jk``: ``None`` (default),
            ``"last"``, ``"cat"`` or ``"max"``. Set, every layer is a hidden spiking layer of
            width ``hidden_channels`` and a linear read-out maps the combined layers to
            ``out_channels``: ``"cat"`` concatenates the layers' spike trains, ``"max"``
            takes their elementwise maximum (a spike where any layer spiked), step by step;
            the read-out is applied at every step and averaged over time, which for
            ``"last"``/``"cat"`` equals the read-out of the firing rates. Needs
            ``readout="membrane"``; ``"lstm"`` is not supported.
        head_channels: Hidden width of an MLP head on the readout (``Linear``, ReLU,
            ``Linear``; the journal version of GC-SNN); ``None`` (default): no head, the
            readout's output are the logits. Not with ``jk``.
        **kwargs: Layer options (``neuron``, ``neuron_kwargs`` and the neuron's options by
            name, ``norm``, ``rho``, ``cached``, ``heads``, ``edge_dim``, ...; see
            :class:`~spikegraph.nn.conv.spiking.SpikingMessagePassing`). A neuron instance
            is copied for each layer. ``norm`` names the normalisation of the synaptic
            current before the neurons (a name of :data:`~spikegraph.nn.norm.NORMS`:
            ``"stfn"``, ``"tdbn"``, or ``"none"``): the place where PyG's ``BasicGNN`` puts
            its ``norm`` (``"tdbn"`` is the spiking counterpart of ``"batch_norm"``).

    Defaults: the validated settings of spikegraph's benchmarks, so that the class dropped
    into PyG's example scripts trains as well as in the benchmarks: integrate-and-fire
    neurons (``tau=inf``), soft reset, no normalisation (the layers' defaults), ``T=8``,
    dropout and input dropout 0.5 (subclasses keep their own: :class:`SpikingGCN` ``T=16``,
    leaky ``tau=4`` hard-reset neurons (:attr:`default_neuron`), dropout 0.6 and input
    dropout 0.8; :class:`SpikingGAT` dropout and input dropout 0.6). The paper's neuron and
    STFN are one argument away: ``**PAPER_NEURON`` or :meth:`with_paper_neuron`.

    Shapes:
        - **input:** node features :math:`(N, F_{in})` (encoded inside) or a spike train
          :math:`(T, N, F_{in})`; edge indices :math:`(2, E)` or a sparse ``adj_t``
        - **output:** class logits :math:`(N, C)`
    """

    supports_edge_weight: bool = False
    #: The neuron of the model's layers when no ``neuron`` is given, as ``(registered name,
    #: options)``; ``None``: the layer class's own default neuron. Options given by name
    #: (``tau=``, ``reset=``, ...) override these.
    default_neuron: tuple[str, dict[str, Any]] | None = None
    #: Whether the layers take edge features ``edge_attr`` (as PyG's ``supports_edge_attr``).
    supports_edge_attr: bool = False
    _warned_edge_weight: bool = False

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_layers: int,
        out_channels: int | None = None,
        dropout: float = 0.5,
        T: int = 8,
        encoder: str = "max-scaled",
        readout: str = "membrane",
        input_dropout: float = 0.5,
        encoder_seed: int = 0,
        sparse_input: bool | None = None,
        act: Any = None,
        act_first: bool = False,
        act_kwargs: dict | None = None,
        norm_kwargs: dict | None = None,
        jk: str | None = None,
        head_channels: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self._check_pyg_options(act, act_first, act_kwargs, norm_kwargs, jk, readout)
        self.sparse_input = sparse_input
        self._static_cache: tuple | None = None
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"'num_layers' must be a positive int, got {num_layers!r}")
        check_channels(in_channels, "in_channels", lazy=True)
        check_channels(hidden_channels, "hidden_channels")
        if out_channels is not None:
            check_channels(out_channels, "out_channels")
        for name, p in (("dropout", dropout), ("input_dropout", input_dropout)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"'{name}' must be in [0, 1), got {p}")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.num_layers = num_layers
        self.out_channels = hidden_channels if out_channels is None else out_channels
        self.dropout = float(dropout)
        self.input_dropout = float(input_dropout)
        self.T = check_time_steps(T)
        #: The readout's registered name (:data:`~spikegraph.nn.readout.READOUTS`) and the
        #: module :meth:`decode` calls (no parameters: the state dict is unchanged).
        self.decoder = build_readout(readout)
        self.readout = readout
        self.encoder_name = encoder
        self.encoder = make_encoder(encoder, T, encoder_seed)

        self.jk_mode = jk
        self.convs = nn.ModuleList()
        if head_channels is not None:
            if jk is not None:
                raise ValueError(
                    f"{type(self).__name__} got head_channels={head_channels!r} with "
                    f"jk={jk!r}: jumping knowledge ends in its own linear read-out; use one"
                )
            check_channels(head_channels, "head_channels")
        self.head_channels = head_channels
        #: The MLP head on the readout's output (``head_channels``), or ``None``.
        self.head: MLPHead | None = None
        if head_channels is not None:
            self.head = MLPHead(hidden_channels, head_channels, self.out_channels)
        # With a read-out of its own (jumping knowledge's linear map, the MLP head), the
        # output layer is a hidden layer.
        last_width = self.out_channels if jk is None and self.head is None else hidden_channels
        widths = [in_channels] + [hidden_channels] * (num_layers - 1) + [last_width]
        if kwargs.get("neuron") is None and self.default_neuron is not None:
            name, options = self.default_neuron
            kwargs = {**options, **kwargs, "neuron": name}
        for i in range(num_layers):
            last = i == num_layers - 1 and jk is None
            opts = dict(kwargs)
            if isinstance(opts.get("neuron"), SpikingNeuron):  # one neuron module per layer
                opts["neuron"] = copy.deepcopy(opts["neuron"])
            if last and not self.decoder.spiking_output:
                opts.update(spiking=False, norm="none")
            self.convs.append(self.init_conv(widths[i], widths[i + 1], last=last, **opts))
        if jk is not None:
            if jk != "last":
                self.jk = JumpingKnowledge(jk)
            width = num_layers * hidden_channels if jk == "cat" else hidden_channels
            self.lin = Linear(width, self.out_channels)

    def _check_pyg_options(
        self,
        act: Any,
        act_first: bool,
        act_kwargs: dict | None,
        norm_kwargs: dict | None,
        jk: str | None,
        readout: str,
    ) -> None:
        """Accept PyG's ``BasicGNN`` options where they make sense; say why not elsewhere."""
        name = type(self).__name__
        if act is not None:
            raise ValueError(
                f"{name} got act={act!r}: the activation of a spiking model is its LIF neuron, "
                "or the neuron given with neuron=, set with the neuron's options (tau, "
                "v_threshold, reset, surrogate, ...; act=None). For the non-spiking model use "
                "PyG's own class"
            )
        if act_kwargs is not None:
            raise ValueError(
                f"{name} got act_kwargs={act_kwargs!r}: set the neuron's options by name "
                "(tau, v_threshold, v_reset, reset, surrogate, ...) or with neuron_kwargs"
            )
        if act_first is not False:
            raise ValueError(
                f"{name} got act_first={act_first!r}: the normalisation ('norm') acts on the "
                "synaptic current before the neurons (act_first=False); after them it would "
                "normalise binary spikes"
            )
        if norm_kwargs is not None:
            raise ValueError(
                f"{name} got norm_kwargs={norm_kwargs!r}: the normalisation takes its options "
                "by name (norm='stfn' or 'tdbn' with rho=...)"
            )
        if jk is not None:
            if jk == "lstm":
                raise ValueError(
                    f"{name} does not support jk='lstm' (an LSTM attention over the layers' "
                    f"spike trains); use one of {list(JK_MODES)}"
                )
            check_choice(jk, JK_MODES, "jk")
            if readout in READOUTS and READOUTS[readout].spiking_output:
                raise ValueError(
                    f"{name} got jk={jk!r} with readout={readout!r}: jumping knowledge ends "
                    "in a linear read-out of the layers' spikes, which is the membrane "
                    "read-out; use readout='membrane'"
                )

    @classmethod
    def with_paper_neuron(cls, *args: Any, **kwargs: Any) -> SpikingBasicGNN:
        """The model with the paper's neuron and normalisation (:data:`PAPER_NEURON`: STFN,
        ``tau=2``, hard reset) instead of the validated defaults; other arguments as for the
        constructor (``kwargs`` override :data:`PAPER_NEURON` too)."""
        return cls(*args, **{**PAPER_NEURON, **kwargs})

    def init_conv(
        self, in_channels: int, out_channels: int, last: bool, **kwargs: Any
    ) -> SpikingMessagePassing:  # pragma: no cover - abstract
        """Build layer ``i``; ``last`` marks the output layer."""
        raise NotImplementedError

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()
        if self.jk_mode is not None:
            self.lin.reset_parameters()
        if self.head is not None:
            self.head.reset_parameters()

    def encode(self, x: Tensor, sparse: bool = True) -> Tensor:
        """Encode static features ``[N, F]``; a spike train ``[T, N, F]`` passes unchanged.

        ``sparse=False`` never hands the first layer a sparse CSR input (see
        :meth:`_encode_static`)."""
        if check_node_input(x).dim() == 2:
            x = self._encode_static(x) if sparse else self.encoder(x)
        return temporal_dropout(x, self.input_dropout, self.training)

    def _encode_static(self, x: Tensor) -> Tensor:
        """Encode ``[N, F]`` features, as sparse CSR when they are sparse enough (and float32
        or float64, :data:`SPARSE_INPUT_DTYPES`).

        Bag-of-words features are mostly zeros; the first layer's synaptic transform of a
        sparse CSR input costs ``nnz * F_out`` instead of ``N * F_in * F_out``. Full-batch
        training feeds the same features every epoch, so the CSR encoding is kept together
        with a copy of the features it was made from, and reused only for features of equal
        content (``torch.equal``: a few milliseconds on Cora, against ~25 ms to re-encode).
        Content, not identity or the version counter, decides: writes through ``.numpy()``
        or ``.data`` do not bump ``x._version``. Dense encodings are not kept (they are the
        features themselves); only the density decision is.

        Under :func:`torch.compile` the features are encoded dense and nothing is kept: the
        cache's content comparison and the density decision depend on the data, which a
        compiled graph cannot, and compilers do not take sparse CSR tensors.

        An encoding that autograd differentiates (``x`` requiring grad, as for saliency on
        the input features, or an encoder with trainable parameters) is neither read from
        nor kept in the cache: it is made afresh from this call's ``x``, so its gradient
        reaches this ``x`` and no call is handed another call's autograd graph.
        """
        if (
            torch.compiler.is_compiling()
            or self.sparse_input is False
            or x.layout != torch.strided
            or not self.encoder.static_output
        ):
            return self.encoder(x)
        differentiable = torch.is_grad_enabled() and (
            x.requires_grad or any(p.requires_grad for p in self.encoder.parameters())
        )
        cached = self._static_cache
        if (
            not differentiable
            and cached is not None
            and cached[2] == self.sparse_input
            and _same_content(cached[0], x)
        ):
            return self.encoder(x) if cached[1] is None else cached[1]
        encoded = self.encoder(x)
        sparse = None
        if encoded.dtype not in SPARSE_INPUT_DTYPES:
            if self.sparse_input:
                raise ValueError(
                    f"{type(self).__name__} has sparse_input=True but its features are "
                    f"{encoded.dtype}: the sparse CSR first layer needs float32 or float64 "
                    "features (torch has no sparse CSR matrix product for float16 or bfloat16); "
                    "use sparse_input=None (dense for these dtypes) or False"
                )
        elif self.sparse_input or count_nonzero_fraction(encoded) <= SPARSE_INPUT_DENSITY:
            with warnings.catch_warnings():  # a supported use: skip torch's "beta" notice
                warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
                sparse = encoded = encoded.to_sparse_csr()
        if not differentiable:
            self._static_cache = (x.detach().clone(), sparse, self.sparse_input)
        return encoded

    def __getstate__(self) -> dict[str, Any]:
        """The module's state without the static-input cache: a copy (``copy.deepcopy``) or a
        pickle re-encodes its first input. The cache may hold a sparse CSR tensor, which has
        no storage to copy."""
        state = super().__getstate__()
        return {**state, "_static_cache": None}

    def decode(self, out: Tensor) -> Tensor:
        """The readout (:attr:`decoder`) of the output layer, ``[T, N, C] -> [N, C]``, then
        the MLP head if the model has one (``[T, N, hidden] -> [N, hidden] -> [N, C]``)."""
        out = self.decoder(out)
        return out if self.head is None else self.head(out)

    def _conv(
        self,
        i: int,
        x: Any,
        edge_index: Adj,
        edge_weight: OptTensor,
        size=None,
        rate=False,
        edge_attr: OptTensor = None,
        normalize: bool | None = None,
        extra: OptTensor = None,
    ) -> Tensor:
        """Layer ``i``: spikes ``[T, N, F]``, or with ``rate`` their rates ``[N, F]``.

        ``normalize`` is the layer's per-call normalisation switch (GCN layers,
        :meth:`~spikegraph.nn.SpikingGCNConv.forward`); ``None`` leaves the layer's setting.
        ``extra`` (``[N, F]`` or ``[T, N, F]``) is added to the layer's synaptic current
        before its normalisation and neurons (AS-GCN's skip term)."""
        conv = self.convs[i]
        if edge_attr is not None and not self.supports_edge_attr:
            raise ValueError(
                f"{type(self).__name__} got 'edge_attr' (shape {tuple(edge_attr.shape)}), but "
                f"its layers ({type(conv).__name__}) take no edge features; pass scalar edge "
                "weights as edge_weight, or use a model whose layers take edge_attr "
                "(SpikingGAT with edge_dim)"
            )
        if not self.supports_edge_weight and edge_weight is not None:
            if not self._warned_edge_weight:
                warnings.warn(
                    f"{type(self).__name__} ignores 'edge_weight' (its attention computes the "
                    "edge weights), as PyG's own model does",
                    stacklevel=3,
                )
                self._warned_edge_weight = True
            edge_weight = None
        kwargs = {"size": size}
        if self.supports_edge_weight:
            kwargs["edge_weight"] = edge_weight
        if self.supports_edge_attr:
            kwargs["edge_attr"] = edge_attr
        if normalize is not None:
            if not getattr(conv, "accepts_final_weights", False):
                raise TypeError(
                    f"{type(self).__name__}'s layer {i} ({type(conv).__name__}) has no "
                    "per-call normalisation switch"
                )
            kwargs["normalize"] = normalize
        if extra is not None:
            current = conv.current(x, edge_index, **kwargs) + extra  # broadcasts over steps
            return conv.fire_rate(current) if rate else conv.fire(current)
        if rate:
            return conv.fire_rate(conv.current(x, edge_index, **kwargs))
        return conv(x, edge_index, **kwargs)

    def _rate_shortcut(self) -> bool:
        r"""Whether training may feed the output layer firing rates instead of spike trains.

        With the membrane read-out, the output layer of a spiking GCN has no neuron and no
        normalisation, so its time-averaged output is linear in its input:
        :math:`\frac1T\sum_t (\hat A H_t W + b) = \hat A \bar H W + b` with the rates
        :math:`\bar H`. Training then computes the last hidden layer's rates directly
        (:meth:`~spikegraph.nn.LIF.rate`) and runs the output layer once, which is exact, and
        ``T`` times cheaper there. Dropout's time-shared mask commutes with the average. In
        eval mode every step is computed, as a neuromorphic chip would (and as
        :mod:`spikegraph.cost` counts).
        """
        last = self.convs[-1]
        return (
            self.training
            and self.jk_mode is None
            and self.num_layers > 1
            and not self.decoder.spiking_output
            and self.decoder.is_time_average
            and getattr(last, "time_linear", False)
        )

    def _between(self, h: Tensor) -> Tensor:
        return temporal_dropout(h, self.dropout, self.training)

    def _jump(self, xs: list[Tensor], rows: Sequence[Tensor | int] | None = None) -> Tensor:
        """Combine the layers' spike trains step by step (``jk``) and apply the linear
        read-out: ``[T, N, C]``. ``rows[i]`` picks the rows of layer ``i`` (blocks): an index
        tensor, or an int ``n`` for the first ``n`` rows."""
        if rows is not None:
            xs = [
                h[..., :r, :] if isinstance(r, int) else h.index_select(-2, r)
                for h, r in zip(xs, rows)
            ]
        h = xs[-1] if self.jk_mode == "last" else self.jk(xs)
        return self.lin(h)

    def forward(
        self,
        x: Tensor,
        edge_index: Adj,
        edge_weight: OptTensor = None,
        edge_attr: OptTensor = None,
        batch: OptTensor = None,
        batch_size: int | None = None,
    ) -> Tensor:
        """Class logits ``[N, C]`` for node features ``[N, F]`` or a spike train ``[T', N, F]``
        (of any length: it runs over its own ``T'`` steps).

        The arguments are those of PyG's ``BasicGNN.forward``. ``edge_attr`` goes to layers
        that take edge features (``SpikingGAT`` built with ``edge_dim``); other models refuse
        it. ``batch`` (the graph of every node) and ``batch_size`` (the number of graphs)
        are what PyG hands to normalisations that need graph membership; no spiking
        normalisation does (STFN normalises each node on its own, tdBN all nodes together
        as PyG's ``BatchNorm``), so they are checked and otherwise unused, as in PyG with
        such norms. Like PyG, ``batch_size`` does not slice the output: take
        ``out[:batch.batch_size]`` for a ``NeighborLoader``'s seed nodes.
        """
        h = self.encode(x)
        self._check_batch(batch, batch_size, h.size(-2))
        shortcut = self._rate_shortcut()
        xs: list[Tensor] = []
        for i in range(self.num_layers):
            rate = shortcut and i == self.num_layers - 2
            h = self._conv(i, h, edge_index, edge_weight, rate=rate, edge_attr=edge_attr)
            if i < self.num_layers - 1 or self.jk_mode is not None:
                h = self._between(h)
            if self.jk_mode is not None:
                xs.append(h)
        if self.jk_mode is not None:
            h = self._jump(xs)
        return self.decode(h)

    @staticmethod
    def _check_batch(batch: OptTensor, batch_size: int | None, num_nodes: int) -> None:
        """Check PyG's ``batch`` vector and ``batch_size`` (number of graphs)."""
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
        ):
            raise ValueError(f"'batch_size' must be a positive int or None, got {batch_size!r}")
        if batch is None:
            return
        if not isinstance(batch, Tensor):
            raise TypeError(f"'batch' must be a torch.Tensor, got {type(batch).__name__}")
        if batch.dtype != torch.long or batch.dim() != 1 or batch.numel() != num_nodes:
            raise ValueError(
                f"'batch' must be a 1-D torch.long tensor with one graph id per node "
                f"({num_nodes}), got dtype {batch.dtype} and shape {tuple(batch.shape)}"
            )
        if num_nodes and int(batch.min()) < 0:
            raise ValueError(f"'batch' holds a negative graph id ({int(batch.min())})")
        if batch_size is not None and num_nodes and int(batch.max()) >= batch_size:
            raise ValueError(
                f"'batch' holds graph id {int(batch.max())}, but batch_size={batch_size} "
                "graphs were given"
            )

    def forward_blocks(self, x: Tensor, blocks: Sequence[Block | Any]) -> Tensor:
        """Run layer ``i`` on bipartite block ``i`` (input layer first), as sampled by a
        node-wise, subgraph or layer-wise sampler, honouring the batch contract of
        :mod:`spikegraph.samplers.batch`.

        - The output of layer ``i`` (one row per target of block ``i``) is the input of
          layer ``i + 1``; the blocks need not nest.
        - A layer that reads the targets' own features (attention) gets them from
          :meth:`Block.dst_rows <spikegraph.samplers.Block.dst_rows>`, which refuses a block
          whose targets are not all among its sources; a GCN layer does not need them.
        - ``weights_final``: a GCN layer aggregates with the block's weights as they are
          (``normalize=False`` for that call: no self-loops, no renormalisation). A model
          whose layers compute their own coefficients (attention) refuses such a block:
          dropping the estimator's weights would bias it.
        - Weights that are not final are normalised by the layer, with degrees inside the
          block; self-loops join each target to its own source row (``dst_index``).
        - VR-GCN's control variate for dropout (blocks whose ``history`` has a
          ``noise_weight``, :func:`~spikegraph.samplers.history.uses_dropout_variate`): in
          training, a copy of the model without dropout runs beside it on the same weights
          and the same encoded input. Layer ``i``'s current is the plain control variate's
          on the copy's input ``μ`` (whose time-mean the histories record) plus the
          dropout-noise term :func:`~spikegraph.samplers.history.noise_aggregate` of
          ``h - μ`` times the layer's weight; the copy fires on the current without it.
          Each spiking layer's normalisation and neurons run twice (spike monitors and
          the cost counter see both fires); in evaluation one pass runs.
        - ``skip`` (AS-GCN's skip connection, on block ``i >= 1``): layer ``i``'s synaptic
          current gets ``Â_skip h_(i-1) W_(i-1) W_i``, with ``h_(i-1)``
          layer ``i - 1``'s input (the encoded features for ``i = 1``, else the spikes after
          dropout) and the two layers' weights (:func:`~spikegraph.samplers.skip.skip_term`),
          before the normalisation and neurons. GCN layers only; others refuse the block.

        Args:
            x: Features ``[N_src of block 0, F]`` (``x[batch.n_id]``) or a spike train.
            blocks: :class:`~spikegraph.samplers.Block` objects, one per layer (any object
                with ``edge_index``, ``edge_weight`` and ``size`` is taken as a block whose
                weights are not final and whose targets are its first sources).

        Returns:
            Logits ``[num_dst of the last block, C]``.

        Raises:
            ValueError: for a wrong number of blocks, or a block whose sources do not match
                the previous layer's output.
            BatchContractError: for a block this model cannot run on (see above), naming
                the model and the block.
        """
        check_block_count(blocks, self.num_layers)
        mean: Tensor | None = None  # CVD: the input of the copy without dropout
        if uses_dropout_variate(blocks) and self.training:
            mean = self.encoder(x) if check_node_input(x).dim() == 2 else x
            h = temporal_dropout(mean, self.input_dropout, True)
        else:
            h = self.encode(x, sparse=False)
        shortcut = self._rate_shortcut()
        xs: list[Tensor] = []
        h_prev: Tensor | None = None  # layer i - 1's input, for a skip block
        for i, block in enumerate(blocks):
            num_src = block.size[0]
            if h.size(-2) != num_src:
                raise ValueError(f"Block {i} expects {num_src} source nodes, got {h.size(-2)}")
            edge_index, edge_weight, normalize = self._block_graph(i, block, h.dtype)
            rate = shortcut and i == self.num_layers - 2
            if mean is not None:  # VR-GCN's control variate for dropout
                h, mean = self._dropout_variate_layer(i, block, h, mean, rate)
            else:
                # encode(sparse=False) above: a strided input, so the targets' rows can be
                # taken.
                pair = (h, self._block_targets(i, block, h))
                size = block.size
                if getattr(block, "history", None) is not None:  # VR-GCN's control variate
                    pair, edge_index, edge_weight, size = self._history_input(block, pair)
                    normalize = False
                extra = self._skip_current(i, block, h_prev)
                h_prev = h
                h = self._conv(
                    i,
                    pair,
                    edge_index,
                    edge_weight,
                    size=size,
                    rate=rate,
                    normalize=normalize,
                    extra=extra,
                )
            if i < self.num_layers - 1 or self.jk_mode is not None:
                h = self._between(h)
            if self.jk_mode is not None:
                xs.append(h)
        if self.jk_mode is not None:
            h = self._jump(xs, rows=[final_target_rows(blocks, i) for i in range(len(blocks))])
        return self.decode(h)

    def _block_graph(
        self, i: int, block: Block, dtype: torch.dtype
    ) -> tuple[Tensor, OptTensor, bool | None]:
        """``(edge_index, edge_weight, normalize)`` that layer ``i`` runs block ``i`` with."""
        conv = self.convs[i]
        dst_index = getattr(block, "dst_index", None)
        if getattr(block, "weights_final", False):
            if not getattr(conv, "accepts_final_weights", False):
                raise BatchContractError(
                    f"{type(self).__name__} cannot run on block {i}: its weights are final "
                    "(an estimator's normalised coefficients), and the model's layers "
                    f"({type(conv).__name__}) compute their own aggregation coefficients, "
                    "which would drop them and bias the estimate. Use a GCN model, or a "
                    "sampler whose blocks are not final (node-wise samplers)"
                )
            return block.edge_index, block.edge_weight, False
        if dst_index is not None and getattr(conv, "normalize", False):
            # The layer's own bipartite normalisation assumes the targets are the first
            # sources; normalise here with the block's map instead.
            edge_index, edge_weight = bipartite_gcn_norm(
                block.edge_index,
                block.edge_weight,
                block.size,
                conv.improved,
                conv.add_self_loops,
                dtype,
                dst_index=dst_index,
            )
            return edge_index, edge_weight, False
        return block.edge_index, block.edge_weight, None

    def _skip_current(self, i: int, block: Any, h_prev: Tensor | None) -> Tensor | None:
        """AS-GCN's skip term of layer ``i`` for a block with ``skip``, else ``None``.

        Raises:
            BatchContractError: a skip block on block 0, or on layers that are not GCN
                layers (they have no ``lin`` weights to tie ``W_skip`` to).
        """
        skip = getattr(block, "skip", None)
        if skip is None:
            return None
        name = type(self).__name__
        if i == 0 or h_prev is None:
            raise BatchContractError(
                f"{name}: block 0 has a skip block, but a skip connection starts at the "
                "input of the layer below"
            )
        convs = (self.convs[i - 1], self.convs[i])
        if not all(getattr(c, "accepts_final_weights", False) for c in convs):
            raise BatchContractError(
                f"{name} cannot run on block {i}'s skip block (AS-GCN's skip connection): "
                f"its layers ({type(convs[1]).__name__}) are not GCN layers, whose weights "
                "W_skip = W_(i-1) W_i is tied to"
            )
        if h_prev.size(-2) != skip.size[0]:
            raise ValueError(
                f"Block {i}'s skip block expects {skip.size[0]} source nodes, got {h_prev.size(-2)}"
            )
        return skip_term(h_prev, skip, [convs[0].lin, convs[1].lin])

    def _block_targets(self, i: int, block: Block, h: Tensor) -> Tensor | None:
        """The targets' own rows of ``h`` for layer ``i``, or ``None`` if it needs none."""
        conv = self.convs[i]
        if not getattr(conv, "needs_target_features", True):
            return None
        if not hasattr(block, "dst_rows"):  # a plain block object: targets come first
            return h[..., : block.size[1], :]
        try:
            return block.dst_rows(h)
        except BatchContractError as err:
            raise BatchContractError(
                f"{type(self).__name__} cannot run on block {i}: {err}"
            ) from err

    def _history_input(self, block: Any, pair: tuple[Tensor, Tensor | None]) -> tuple:
        """VR-GCN's control variate on layer input ``h`` (a block with ``history``).

        ``pair`` is ``(h, targets' rows)``. Returns ``(pair, edge_index, edge_weight, size)``
        for :meth:`_conv`: the sources
        followed by one row per target holding its correction from the histories, so the
        layer's weights-final aggregation computes the control-variate estimate
        (:func:`spikegraph.samplers.history.control_variate_input`, which also writes the
        time-mean of ``h``, the firing rates, to the histories). VR-GCN blocks are final, so
        attention layers have already refused them (:meth:`_block_graph`).
        """
        h, h_dst = pair
        h_aug, edge_index, edge_weight, size = control_variate_input(
            h, block.edge_index, block.edge_weight, block.size, block.history
        )
        return (h_aug, h_dst), edge_index, edge_weight, size

    def _dropout_variate_layer(
        self, i: int, block: Any, h: Tensor, mean: Tensor, rate: bool
    ) -> tuple[Tensor, Tensor]:
        """Layer ``i`` on a CVD block: ``(output, output of the copy without dropout)``.

        The current is the plain control variate's on ``mean`` (:meth:`_history_input`,
        which records ``mean``'s time-mean in the histories), plus, for the model itself,
        the dropout-noise term of ``h - mean`` through the layer's weight (no bias)."""
        conv = self.convs[i]
        (m_aug, _), edge_index, edge_weight, size = self._history_input(block, (mean, None))
        current = conv.current(
            (m_aug, None), edge_index, edge_weight=edge_weight, size=size, normalize=False
        )
        noise = conv.lin(noise_aggregate(h, mean, block.edge_index, block.history))
        fire = conv.fire_rate if rate else conv.fire
        return fire(current + noise), fire(current)

    def spiking_layers(self) -> list[str]:
        """Names of the layers that emit spikes."""
        return [f"convs.{i}" for i, c in enumerate(self.convs) if c.neuron is not None]

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
            f"num_layers={self.num_layers}, T={self.T}, readout={self.readout!r}"
            + ("" if self.jk_mode is None else f", jk={self.jk_mode!r}")
            + ("" if self.head is None else f", head_channels={self.head_channels}")
            + ")"
        )
