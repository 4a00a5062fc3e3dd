"""The sampler registry: a sampler registers itself by name in its class statement, a user's
sampler file is all it takes to train with it, and a name that is taken is refused."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest
import torch

from spikegraph.models import SpikingGCN
from spikegraph.samplers import SAMPLERS, GraphSAGESampler, NodeSampler, Sampler
from spikegraph.train import TrainConfig, fit
from spikegraph.train.minibatch import build_loader, minibatch_step

DOCS = Path(__file__).resolve().parents[2] / "docs"
BUILT_IN = [
    "graphsage",
    "pinsage",
    "cluster-gcn",
    "graphsaint-node",
    "graphsaint-edge",
    "graphsaint-rw",
    "shadow",
    "ripple",
    "fastgcn",
    "ladies",
    "vrgcn",
    "asgcn",
]
#: A user's sampler, in a file of its own.
USER_FILE = '''
from typing import Any, ClassVar

from spikegraph.samplers import GraphSAGESampler


class FewNeighbours(GraphSAGESampler, name="test-few"):
    """GraphSAGE drawing two neighbours per hop unless told otherwise."""

    default_options: ClassVar[dict[str, Any]] = {"num_neighbors": [2, 2]}
    default_batch_size = 8
'''


@pytest.fixture(autouse=True)
def _restore_registry():
    """Every test leaves SAMPLERS as it found it (other tests iterate over it)."""
    before = list(SAMPLERS)
    yield
    for name in [n for n in SAMPLERS if n not in before]:
        SAMPLERS.pop(name)


@pytest.fixture
def user_sampler(tmp_path, monkeypatch):
    """Import the user's sampler file, as a user's script would."""
    (tmp_path / "test_user_sampler_file.py").write_text(USER_FILE)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("test_user_sampler_file")
    yield module.FewNeighbours
    sys.modules.pop("test_user_sampler_file", None)


def test_the_built_ins_keep_their_names_and_order():
    assert list(SAMPLERS) == BUILT_IN
    assert all(cls.name == name for name, cls in SAMPLERS.items())
    assert SAMPLERS["graphsage"] is GraphSAGESampler


def test_a_users_sampler_file_registers_it(user_sampler):
    assert SAMPLERS["test-few"] is user_sampler and user_sampler.name == "test-few"
    assert list(SAMPLERS) == [*BUILT_IN, "test-few"]
    assert user_sampler.options_for(3) == {"num_neighbors": [2, 2, 2]}


def test_a_users_sampler_trains_through_the_train_api(user_sampler, node_data):
    setup = build_loader("test-few", node_data, num_layers=2)
    assert type(setup.sampler) is user_sampler
    assert setup.options == {"num_neighbors": [2, 2]}
    batch = next(iter(setup.loader))
    assert batch.target.numel() == 8  # its default batch size
    torch.manual_seed(0)
    model = SpikingGCN(node_data.num_features, 8, 2, 2, T=2)
    config = TrainConfig(epochs=2, progress=False)
    result = fit(model, node_data, config, train_step=minibatch_step(setup.loader))
    assert result.epochs_run == 2 and 0.0 <= result.test_acc <= 1.0


def test_a_subclass_without_a_name_is_not_registered():
    class Quiet(GraphSAGESampler):
        pass

    assert Quiet.name == "graphsage" and SAMPLERS["graphsage"] is GraphSAGESampler
    assert list(SAMPLERS) == BUILT_IN


def test_a_taken_name_is_refused_in_the_class_statement():
    with pytest.raises(ValueError, match=r"A sampler named 'graphsage' is registered already"):

        class Again(NodeSampler, name="graphsage"):
            def sample(self, seeds, *, generator=None):
                raise NotImplementedError

    assert SAMPLERS["graphsage"] is GraphSAGESampler


def test_a_taken_name_is_refused_by_assignment_and_update():
    with pytest.raises(ValueError, match=r"A sampler named 'graphsage' is registered already"):
        SAMPLERS["graphsage"] = GraphSAGESampler
    with pytest.raises(ValueError, match=r"A sampler named 'ladies' is registered already"):
        SAMPLERS.update(ladies=GraphSAGESampler)
    assert SAMPLERS["ladies"].__name__ == "LADIESSampler" and list(SAMPLERS) == BUILT_IN


@pytest.mark.parametrize(
    "value", [int, GraphSAGESampler(torch.zeros(2, 0, dtype=torch.long), [1], num_nodes=1)]
)
def test_only_sampler_classes_are_registered(value):
    with pytest.raises(TypeError, match=r"'x'.*Sampler subclass"):
        SAMPLERS["x"] = value
    assert "x" not in SAMPLERS


def test_the_registry_resolves_names():
    assert Sampler.registry is SAMPLERS and SAMPLERS.kind == "sampler"
    assert SAMPLERS.resolve("ladies") is SAMPLERS["ladies"]
    with pytest.raises(ValueError, match=r"Unknown sampler 'nope'; expected one of \['graphsage'"):
        SAMPLERS.resolve("nope")


def test_the_adding_a_sampler_snippet_runs():
    text = (DOCS / "samplers.md").read_text(encoding="utf-8")
    match = re.search(r"^(#+) Adding a sampler\n(.*?)(?=^#{1,3} |\Z)", text, re.S | re.M)
    assert match, "docs/samplers.md has no 'Adding a sampler' section"
    blocks = re.findall(r"^```python\n(.*?)^```", match[2], re.S | re.M)
    assert blocks
    ns: dict = {}
    for code in blocks:
        exec(compile(code, "docs/samplers.md (Adding a sampler)", "exec"), ns)
    added = [n for n in SAMPLERS if n not in BUILT_IN]
    assert len(added) == 1 and issubclass(SAMPLERS[added[0]], Sampler)
