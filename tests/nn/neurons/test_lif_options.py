"""The options of the LIF family are declared once (LIFFamily) and reach every member."""

import inspect

import pytest

from spikegraph.nn.neurons import NEURONS
from spikegraph.nn.neurons._lif_options import LIFFamily

FAMILY = sorted(name for name, cls in NEURONS.items() if issubclass(cls, LIFFamily))
SHARED = ("v_reset", "reset", "surrogate", "surrogate_alpha", "detach_reset")


def test_lif_plif_and_alif_are_members():
    assert {"lif", "plif", "alif"} <= set(FAMILY)


@pytest.mark.parametrize("name", FAMILY)
def test_shared_options_come_from_the_family_with_class_overrides(name):
    cls = NEURONS[name]
    family = {
        k: p.default
        for k, p in inspect.signature(LIFFamily.__init__).parameters.items()
        if k != "self"
    }
    defaults = cls.defaults()
    own = inspect.signature(cls.__init__).parameters
    for key in SHARED:
        want = own[key].default if key in own else family[key]
        assert defaults[key] == want, key
    # Declared once: a member names none of the shared options but the ones it overrides.
    assert {k for k in SHARED if k in own} <= {"reset"}
    neuron = cls(surrogate="sigmoid", surrogate_alpha=3.0, detach_reset=True, v_reset=-0.5)
    opts = neuron.options()
    assert (opts["surrogate"], opts["surrogate_alpha"]) == ("sigmoid", 3.0)
    assert (opts["detach_reset"], opts["v_reset"]) == (True, -0.5)


@pytest.mark.parametrize("name", FAMILY)
def test_a_bad_shared_option_is_refused_the_same_way(name):
    with pytest.raises(ValueError, match=r"Unknown reset 'zero'; expected one of"):
        NEURONS[name](reset="zero")
    with pytest.raises(ValueError, match=r"Unknown surrogate 'gauss'"):
        NEURONS[name](surrogate="gauss")


def test_alif_keeps_its_soft_reset_default_and_lif_its_hard_one():
    assert NEURONS["alif"].defaults()["reset"] == "soft"
    assert NEURONS["lif"].defaults()["reset"] == "hard"
    assert NEURONS["plif"].defaults()["reset"] == "hard"
