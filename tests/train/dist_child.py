"""One process of a ``torchrun`` run for the distributed tests: the ``spikegraph`` command,
with the trainer's ``fit`` wrapped to save, per rank, the weights before and after training
and the loader's shard of epochs 0 and 1 to ``$DIST_OUT/rank<RANK>.pt``.

``torchrun ... tests/train/dist_child.py train --dataset Cora ...``
"""

from __future__ import annotations

import os
import sys

import torch

import spikegraph.experiments.node_classification as node_classification
from spikegraph.cli import main

_fit = node_classification.fit


def fit(model, data, config, train_step, **kwargs):
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    result = _fit(model, data, config, train_step=train_step, **kwargs)
    loader = train_step.loader
    torch.save(
        {
            "before": before,
            "after": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "shards": [torch.cat(loader.shard(epoch)) for epoch in (0, 1)],
            "seeds": loader.seeds,
            "num_replicas": loader.num_replicas,
        },
        os.path.join(os.environ["DIST_OUT"], f"rank{os.environ['RANK']}.pt"),
    )
    return result


node_classification.fit = fit

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
