"""Fixtures of the dataset tests: a guard that fails a test in which ogb tries to download."""

from __future__ import annotations

import pytest


@pytest.fixture
def no_ogb_download(monkeypatch):
    """Any attempt by ogb to reach the network fails the test."""
    import ogb.nodeproppred.dataset_pyg as dataset_pyg

    def refuse(*args, **kwargs):
        raise AssertionError("ogb tried to download")

    monkeypatch.setattr(dataset_pyg, "download_url", refuse)
    monkeypatch.setattr(dataset_pyg, "decide_download", refuse)
