"""Fixtures of the tuning tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def toy(monkeypatch):
    """Studies load the toy graph of ``test_tune`` instead of a real dataset; yields the
    graph. (``test_node_classification`` has a ``toy`` of its own.)"""
    from spikegraph.experiments import tune
    from tests.experiments.test_tune import toy_graph

    data = toy_graph()
    monkeypatch.setattr(tune, "load_dataset", lambda name, root=None, split="public": (data, 3))
    return data
