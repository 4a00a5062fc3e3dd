"""Registering a class with a name checks it against its extension point: a neuron or a
surrogate that lacks a method the extension point requires, or a name that is not a
non-empty str, is refused in the class statement (naming the class, the methods or the
value), not accepted to fail later with an empty ``NotImplementedError``."""

from __future__ import annotations

import re

import pytest
import torch

from spikegraph.nn import SpikingGCNConv
from spikegraph.nn.encoding import ENCODERS
from spikegraph.nn.neurons import NEURONS, CountingRule, SpikingNeuron
from spikegraph.nn.norm import NORMS
from spikegraph.nn.readout import READOUTS
from spikegraph.nn.registry import Registered, Registry
from spikegraph.nn.surrogate import SURROGATES, Surrogate, relu


@pytest.fixture
def clean_registries():
    """Remove whatever a test registered (also when a check it expects is missing)."""
    before = {id(r): dict(r) for r in (NEURONS, SURROGATES)}
    yield
    for registry in (NEURONS, SURROGATES):
        for name in set(registry) - set(before[id(registry)]):
            del registry[name]


def test_a_neuron_without_multistep_and_counting_rule_is_refused(clean_registries):
    with pytest.raises(TypeError) as err:

        class Bad(SpikingNeuron, name="test-bad"):
            pass

    message = str(err.value)
    assert "Bad" in message and "'test-bad'" in message
    assert "multistep" in message and "counting_rule" in message
    assert "test-bad" not in NEURONS


def test_a_neuron_missing_one_method_is_refused_naming_only_that_one(clean_registries):
    with pytest.raises(TypeError, match=r"HalfDone .*\['counting_rule'\]") as err:

        class HalfDone(SpikingNeuron, name="test-half"):
            def multistep(self, x, steps=None):
                return x

    assert "multistep" not in str(err.value)
    assert "test-half" not in NEURONS


def test_the_user_trial_neuron_no_longer_builds_a_layer(clean_registries):
    # the user trial's case: the class statement itself fails, so no layer is built from
    # the name and no forward pass meets an empty NotImplementedError
    with pytest.raises(TypeError, match="multistep"):

        class Bad(SpikingNeuron, name="bad"):
            pass

    with pytest.raises(ValueError, match=r"Unknown neuron 'bad'"):
        SpikingGCNConv(5, 4, neuron="bad")


def test_a_surrogate_without_formula_is_refused(clean_registries):
    with pytest.raises(TypeError, match=r"NoFormula .*\['formula'\]"):

        class NoFormula(Surrogate, name="test-no-formula"):
            def primitive(self, x):
                return torch.sigmoid(x)

    assert "test-no-formula" not in SURROGATES


@pytest.mark.parametrize("name", [5, b"x", ("a",), 1.5])
def test_a_name_that_is_not_a_str_is_refused_naming_it(clean_registries, name):
    before = set(SURROGATES)
    with pytest.raises(TypeError, match=re.escape(f"got {type(name).__name__} {name!r}")):

        class Numbered(Surrogate, name=name):
            @staticmethod
            def formula(u, alpha):
                return alpha * relu(1.0 - abs(u))

    assert set(SURROGATES) == before


@pytest.mark.parametrize("name", ["", "  "])
def test_an_empty_name_is_refused_naming_it(clean_registries, name):
    before = set(NEURONS)
    with pytest.raises(ValueError, match=rf"got {name!r}"):

        class Blank(SpikingNeuron, name=name):
            def multistep(self, x, steps=None):
                return x

            def counting_rule(self):
                return CountingRule(1.0, "soft")

    assert set(NEURONS) == before


def test_a_complete_neuron_and_surrogate_register(clean_registries):
    class Fine(SpikingNeuron, name="test-fine"):
        def multistep(self, x, steps=None):
            return (x >= 1.0).to(x.dtype).expand(steps or 1, *x.shape)

        def counting_rule(self):
            return CountingRule(1.0, "soft")

    class Smooth(Surrogate, name="test-smooth"):
        @staticmethod
        def formula(u, alpha):
            return alpha * relu(1.0 - alpha * abs(u))

    assert NEURONS["test-fine"] is Fine and Fine.name == "test-fine"
    assert SURROGATES["test-smooth"] is Smooth
    conv = SpikingGCNConv(5, 4, neuron="test-fine", T=3)
    out = conv(torch.rand(10, 5), torch.randint(0, 10, (2, 30)))
    assert out.shape == (3, 10, 4)


def test_a_subclass_of_a_registered_class_inherits_its_methods(clean_registries):
    # a registered neuron's subclass implements what its parent implements
    class Child(NEURONS["lif"], name="test-child"):
        pass

    from spikegraph.nn.registry import missing_methods

    assert missing_methods(Child) == ()
    assert NEURONS["test-child"] is Child


def test_an_unnamed_intermediate_base_is_not_checked():
    # shared bases such as LIFFamily register nothing, so nothing is required of them
    class Partial(SpikingNeuron):
        def multistep(self, x, steps=None):
            return x

    from spikegraph.nn.registry import missing_methods

    assert missing_methods(Partial) == ("counting_rule",)
    assert Partial.name is None


def test_every_registered_class_has_what_its_extension_point_requires():
    from spikegraph.nn.registry import missing_methods

    for registry in (NEURONS, SURROGATES, ENCODERS, NORMS, READOUTS):
        assert registry, registry.kind
        for name, cls in registry.items():
            assert missing_methods(cls) == (), (registry.kind, name)
    assert SpikingNeuron.required_methods == ("multistep", "counting_rule")
    assert Surrogate.required_methods == ("formula",)
    assert set(NEURONS) >= {"lif", "plif", "alif"}
    assert set(SURROGATES) >= {"rectangular", "sigmoid", "arctan", "triangle"}


def test_a_new_extension_point_states_its_required_methods_once(clean_registries):
    things = Registry("thing")

    class Thing(Registered):
        registry = things
        required_methods = ("run",)

        def run(self):
            raise NotImplementedError

    with pytest.raises(TypeError, match=r"thing 'lazy': .*Lazy does not implement \['run'\]"):

        class Lazy(Thing, name="lazy"):
            pass

    class Busy(Thing, name="busy"):
        def run(self):
            return 1

    assert dict(things) == {"busy": Busy}


def test_the_base_methods_name_the_class_that_lacks_them():
    class Unnamed(SpikingNeuron):  # not registered, so not checked
        pass

    neuron = Unnamed()
    with pytest.raises(NotImplementedError, match=r"Unnamed does not implement multistep"):
        neuron(torch.ones(2, 3), steps=2)
    with pytest.raises(NotImplementedError, match=r"Unnamed does not implement counting_rule"):
        neuron.counting_rule()

    class NoFormula(Surrogate):
        pass

    x = torch.zeros(3, requires_grad=True)
    with pytest.raises(NotImplementedError, match=r"NoFormula does not implement formula"):
        NoFormula()(x).sum().backward()
    with pytest.raises(NotImplementedError, match=r"NoFormula does not implement primitive"):
        NoFormula().primitive(x)


@pytest.mark.parametrize("registry", [NEURONS, SURROGATES, ENCODERS, NORMS, READOUTS])
def test_a_taken_name_is_refused_on_every_way_in(registry):
    """Assigning (or updating) a name that is taken replaced a built-in silently: only the
    class statement checked. Every way in refuses it now, naming it, and keeps the entry."""
    name = next(iter(registry))
    built_in = registry[name]

    class Other:
        pass

    for assign in (
        lambda: registry.__setitem__(name, Other),
        lambda: registry.update({name: Other}),
        lambda: registry.__ior__({name: Other}),
    ):
        with pytest.raises(ValueError, match=rf"A {registry.kind} named {name!r} is registered"):
            assign()
        assert registry[name] is built_in
    assert registry.setdefault(name, Other) is built_in
    with pytest.raises(TypeError, match=r"name must be a non-empty str, got int 5"):
        registry[5] = Other
    assert 5 not in registry
