"""spikegraph.experiments.study.budget: the study's budget, checked, and how every sampler
of the registry is sized and scaled."""

from __future__ import annotations

import pytest

from spikegraph.experiments.study import StudyBudget, budget_option, sampler_family
from spikegraph.experiments.study.budget import SUBGRAPH_SIZE_OPTIONS, scaled_budget
from spikegraph.samplers import SAMPLERS


def test_defaults_and_plain_data():
    budget = StudyBudget(budget_multiples=(2, 1.0))
    assert budget.budget_multiples == (1.0, 2.0)  # sorted floats
    assert budget.to_dict()["budget_multiples"] == [1.0, 2.0]
    assert StudyBudget().gradient_weights == "initial" and StudyBudget().patience is None


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"epochs": 0}, ValueError, "'epochs' must be >= 1, got 0"),
        ({"epochs": 2.5}, TypeError, "'epochs' must be an int"),
        ({"patience": 0}, ValueError, "'patience' must be >= 1, got 0"),
        ({"batch_size": 0}, ValueError, "'batch_size' must be >= 1"),
        ({"measure_batches": 0}, ValueError, "'measure_batches' must be >= 1"),
        ({"gradient_batches": 1}, ValueError, "'gradient_batches' must be >= 2, got 1"),
        ({"budget_multiples": (2.0,)}, ValueError, r"must hold 1.0 \(the training budget\)"),
        ({"budget_multiples": (1.0, 1)}, ValueError, "holds a multiple twice"),
        ({"budget_multiples": (1.0, -2.0)}, ValueError, "finite numbers > 0, got -2.0"),
        ({"budget_multiples": (1.0, float("nan"))}, ValueError, "finite numbers > 0"),
        ({"budget_multiples": "1"}, TypeError, "must be a tuple of numbers"),
        ({"gradient_weights": "final"}, ValueError, "Unknown gradient_weights 'final'"),
    ],
)
def test_bad_values_are_refused(changes, error, match):
    with pytest.raises(error, match=match):
        StudyBudget(**changes)


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_every_registered_sampler_is_sized_and_scaled(name):
    cls = SAMPLERS[name]
    option = budget_option(cls)
    family = sampler_family(cls)
    assert family in ("node-wise", "layer-wise", "subgraph")
    assert option == {"node-wise": "batch_size", "layer-wise": "layer_sizes"}.get(family, option)
    if family == "subgraph":
        assert option in SUBGRAPH_SIZE_OPTIONS
    options = cls.options_for(2)
    batch = cls.default_batch_size
    opts, bs, scaled, value = scaled_budget(cls, options, batch, 2.0, num_train=10**6)
    assert scaled == option
    if option == "batch_size":
        assert bs == value == 2 * batch and opts == options
    else:
        assert bs == batch and opts[option] == value
        old = options[option]
        want = [2 * v for v in old] if isinstance(old, list) else 2 * old
        if option == "clusters_per_batch":
            want = min(want, options["num_parts"])
        assert value == want
    half = scaled_budget(cls, options, batch, 1e-9, num_train=10**6)[3]
    assert half == ([1, 1] if option == "layer_sizes" else 1)  # never below one


def test_seeds_per_batch_stop_at_the_training_nodes():
    cls = SAMPLERS["graphsage"]
    assert scaled_budget(cls, {}, 512, 4.0, num_train=700)[1] == 700
