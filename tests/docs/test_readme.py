"""README.md's Python examples run as written, on a small graph standing in for Cora: the
names they take from the reader's script (``dataset``, ``data``, ``gcn``) are defined first,
as PyG's own example defines them, and what each example says it returns is checked."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: What the examples assume the reader has: a PyG dataset, its graph (binary features and a
#: training mask, as Cora's) and PyG's GCN.
PRELUDE = """
import torch
from torch_geometric.datasets import FakeDataset
from torch_geometric.nn import GCN

torch.manual_seed(0)
dataset = FakeDataset(num_graphs=1, avg_num_nodes=120, num_channels=24, num_classes=4,
                      task="node")
data = dataset[0]
data.x = (data.x > 0.5).float()  # binary bag-of-words features, as Cora's
data.train_mask = torch.rand(data.num_nodes) < 0.5
gcn = GCN(dataset.num_features, 16, 2, dataset.num_classes)
"""


def python_blocks(text: str) -> list[str]:
    """The ```` ```python ```` blocks of a Markdown page, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, re.DOTALL | re.MULTILINE)


def test_the_readmes_python_examples_run_as_written(capsys):
    blocks = python_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 3, "README.md lost its Python examples"
    ns: dict = {}
    exec(compile(PRELUDE, "prelude", "exec"), ns)
    for i, block in enumerate(blocks):
        exec(compile(block, f"README.md python block {i + 1}", "exec"), ns)
    data, dataset = ns["data"], ns["dataset"]
    # drop-in: logits like PyG's GCN; a sampled batch's output holds its target rows
    assert ns["logits"].shape == (data.num_nodes, dataset.num_classes)
    assert ns["out"].shape == (len(ns["batch"].target), dataset.num_classes)
    assert ns["compiled"] is not None and ns["paper"].convs[0].norm is not None
    # cost: the report named its convention, and the comparison's table was printed
    assert ns["report"].static_input == "once" and ns["per_step"].static_input == "per-step"
    assert ns["report"].total.energy_pj > 0
    assert "[per-step]" in capsys.readouterr().out
