"""Training loops and experiment runners for node classification."""

from spikegraph.train.experiment import RunRecord, Summary, machine_info, run_node_classification
from spikegraph.train.inference import layerwise_predict, make_evaluator
from spikegraph.train.trainer import (
    TrainConfig,
    TrainResult,
    accuracies,
    check_node_data,
    fit,
    full_batch_step,
    predict,
)

__all__ = [
    "RunRecord",
    "Summary",
    "TrainConfig",
    "TrainResult",
    "accuracies",
    "check_node_data",
    "fit",
    "full_batch_step",
    "layerwise_predict",
    "machine_info",
    "make_evaluator",
    "predict",
    "run_node_classification",
]
