"""Training loops and experiment runners for node classification."""

from spikegraph.train.checkpoint import (
    CheckpointError,
    CheckpointMismatchError,
    data_fingerprint,
    run_checkpoint_path,
)
from spikegraph.train.experiment import (
    RunRecord,
    Summary,
    check_seeds,
    effective_model_options,
    machine_info,
    run_node_classification,
    versions,
)
from spikegraph.train.inference import layerwise_predict, make_evaluator
from spikegraph.train.trainer import (
    NonFiniteLossError,
    TrainConfig,
    TrainResult,
    accuracies,
    check_node_data,
    fit,
    full_batch_step,
    predict,
)

__all__ = [
    "CheckpointError",
    "CheckpointMismatchError",
    "NonFiniteLossError",
    "RunRecord",
    "Summary",
    "TrainConfig",
    "TrainResult",
    "accuracies",
    "check_node_data",
    "check_seeds",
    "data_fingerprint",
    "effective_model_options",
    "fit",
    "full_batch_step",
    "layerwise_predict",
    "machine_info",
    "make_evaluator",
    "predict",
    "run_checkpoint_path",
    "run_node_classification",
    "versions",
]
