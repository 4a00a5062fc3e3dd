"""Extending the model registry: a model or neuron registered after import is treated as
the built-ins are, and a name that is taken is refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spikegraph.models import (
    MODELS,
    SPIKING,
    SpikingGAT,
    SpikingGCN,
    build_model,
    check_model_options,
    estimate_memory,
    is_spiking,
)
from spikegraph.models.basic import NEURON_OPTIONS
from spikegraph.models.checks import SPIKING_ONLY
from spikegraph.nn.neurons import NEURONS, CountingRule, SpikingNeuron

DOCS = Path(__file__).resolve().parents[2] / "docs"
BUILT_IN = ["sgcn", "sgat", "gcn", "gat", "stfn-sgcn", "stfn-sgat", "lif-sgat", "gcsnn", "gasnn"]
CORA = {"num_nodes": 2708, "num_edges": 10556, "num_features": 1433, "num_classes": 7}


@pytest.fixture(autouse=True)
def _restore_registries():
    """Every test leaves MODELS and NEURONS as it found them."""
    models, neurons = list(MODELS), list(NEURONS)
    yield
    for name in [n for n in MODELS if n not in models]:
        MODELS.pop(name)
    for name in [n for n in NEURONS if n not in neurons]:
        NEURONS.pop(name)


def register_mygcn() -> None:
    MODELS["mygcn"] = (SpikingGCN, {"hidden_channels": 16, "num_layers": 2})


# --- A: spiking-ness is read from the class when asked ---------------------------------


def test_a_model_registered_later_takes_spiking_options():
    register_mygcn()
    assert is_spiking("mygcn")
    model = build_model("mygcn", 5, 3, T=8, neuron="plif")
    assert model.T == 8
    assert type(model.convs[0].neuron).name == "plif"


def test_spiking_lists_a_model_registered_later_and_compares_as_a_tuple():
    before = tuple(SPIKING)
    assert before == ("sgcn", "sgat", "stfn-sgcn", "stfn-sgat", "lif-sgat", "gcsnn", "gasnn")
    register_mygcn()
    assert "mygcn" in SPIKING and SPIKING[-1] == "mygcn" and len(SPIKING) == len(before) + 1
    assert (*before, "mygcn") == SPIKING
    MODELS.pop("mygcn")
    assert "mygcn" not in SPIKING and before == SPIKING


def test_the_spiking_checks_apply_to_a_model_registered_later():
    register_mygcn()
    with pytest.raises(ValueError, match=r"T"):
        check_model_options("mygcn", {"T": 0})


def test_memory_estimate_counts_the_time_steps_of_a_model_registered_later():
    """It took T=1 for a model not in the frozen SPIKING, an eighth of sgcn's estimate."""
    register_mygcn()
    opts = {"hidden_channels": 16, "num_layers": 2, "T": 8}
    mine = estimate_memory("mygcn", opts, **CORA)
    same = estimate_memory("sgcn", {**opts, "encoder": "current"}, **CORA)
    assert "T=8" in mine.formula
    assert mine.bytes == same.bytes


def test_is_spiking_of_an_unknown_name_names_it():
    with pytest.raises(ValueError, match=r"Unknown model 'nope'; expected one of \['sgcn'"):
        is_spiking("nope")


# --- B: the options of a neuron registered after import --------------------------------


def register_gain_neuron() -> type:
    class Gain(SpikingNeuron, name="test-gainif"):
        def __init__(self, v_threshold: float = 1.0, gain: float = 1.0) -> None:
            super().__init__()
            self.v_threshold, self.gain = v_threshold, gain

        def multistep(self, x, steps=None):
            return (self.gain * x >= self.v_threshold).float().expand(steps or 1, *x.shape)

        def counting_rule(self):
            return CountingRule(1.0, "soft")

    return Gain


def test_options_of_a_neuron_registered_later_are_spiking_options():
    assert "gain" not in NEURON_OPTIONS and "gain" not in SPIKING_ONLY
    register_gain_neuron()
    assert "gain" in NEURON_OPTIONS and "gain" in SPIKING_ONLY
    msg = r"option\(s\) \['gain'\] only apply to spiking models, not 'gcn'"
    with pytest.raises(ValueError, match=msg):
        build_model("gcn", 5, 3, gain=2.0)


def test_neuron_options_view_reads_the_registry_each_time():
    assert tuple(NEURON_OPTIONS[:4]) == ("norm", "rho", "neuron", "neuron_kwargs")
    assert "tau" in NEURON_OPTIONS and "tau" in SPIKING_ONLY and "T" in SPIKING_ONLY


# --- C: a taken name is refused --------------------------------------------------------


def test_the_built_in_order_is_kept():
    assert list(MODELS) == BUILT_IN


@pytest.mark.parametrize(
    "replace",
    [
        lambda: MODELS.__setitem__("sgcn", (SpikingGAT, {"hidden_channels": 8, "num_layers": 2})),
        lambda: MODELS.register("sgcn", SpikingGAT, {"hidden_channels": 8, "num_layers": 2}),
        lambda: MODELS.update(sgcn=(SpikingGAT, {"hidden_channels": 8, "num_layers": 2})),
    ],
    ids=["setitem", "register", "update"],
)
def test_a_taken_name_is_refused_and_the_built_in_kept(replace):
    with pytest.raises(ValueError, match=r"A model named 'sgcn' is registered already"):
        replace()
    assert MODELS["sgcn"][0] is SpikingGCN and list(MODELS) == BUILT_IN


def test_register_adds_a_model_in_one_call():
    MODELS.register("mygat", SpikingGAT, {"hidden_channels": 8, "num_layers": 2, "heads": 2})
    assert list(MODELS) == [*BUILT_IN, "mygat"]
    model = build_model("mygat", 5, 3, T=2)
    assert isinstance(model, SpikingGAT) and model.heads == 2 and model.T == 2


@pytest.mark.parametrize(
    "entry, error, msg",
    [
        (
            (int, {"hidden_channels": 8, "num_layers": 2}),
            TypeError,
            r"torch.nn.Module subclass, got <class 'int'>",
        ),
        ((SpikingGCN, [8, 2]), TypeError, r"defaults.*dict.*got list"),
        ((SpikingGCN, {"num_layers": 2}), ValueError, r"'hidden_channels'"),
        (SpikingGCN, TypeError, r"\(class, defaults\)"),
    ],
)
def test_a_bad_entry_is_refused_naming_it(entry, error, msg):
    with pytest.raises(error, match=msg):
        MODELS["bad"] = entry
    assert "bad" not in MODELS


@pytest.mark.parametrize("name", ["", 3])
def test_a_bad_name_is_refused(name):
    with pytest.raises((TypeError, ValueError), match=re.escape(repr(name))):
        MODELS[name] = (SpikingGCN, {"hidden_channels": 8, "num_layers": 2})


def section_blocks(page: Path, title: str) -> list[str]:
    """The ```python blocks of section ``title`` (a ``##``/``###`` heading) of ``page``."""
    text = page.read_text(encoding="utf-8")
    match = re.search(rf"^(#+) {re.escape(title)}\n(.*?)(?=^#{{1,3}} |\Z)", text, re.S | re.M)
    assert match, f"{page.name} has no section {title!r}"
    return re.findall(r"^```python\n(.*?)^```", match[2], re.S | re.M)


def test_the_adding_a_model_snippet_runs():
    blocks = section_blocks(DOCS / "spiking.md", "Adding a model")
    assert blocks
    ns: dict = {}
    for code in blocks:
        exec(compile(code, "docs/spiking.md (Adding a model)", "exec"), ns)
    added = [n for n in MODELS if n not in BUILT_IN]
    assert added and all(is_spiking(n) for n in added)
