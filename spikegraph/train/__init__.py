"""Training loops and experiment runners for node classification."""

from spikegraph.train.checkpoint import (
    CheckpointError,
    CheckpointInUseError,
    CheckpointMismatchError,
    data_fingerprint,
    run_checkpoint_path,
)
from spikegraph.train.device import DeviceError, resolve_device
from spikegraph.train.experiment import (
    RunInterrupted,
    RunRecord,
    Summary,
    check_model_option_names,
    check_seeds,
    effective_model_options,
    machine_info,
    model_option_names,
    run_node_classification,
    versions,
)
from spikegraph.train.inference import layerwise_predict, make_evaluator
from spikegraph.train.trainer import (
    NonFiniteLossError,
    TrainConfig,
    TrainingInterrupted,
    TrainResult,
    accuracies,
    check_node_data,
    fit,
    full_batch_step,
    predict,
)

__all__ = [
    "CheckpointError",
    "CheckpointInUseError",
    "CheckpointMismatchError",
    "DeviceError",
    "NonFiniteLossError",
    "RunInterrupted",
    "RunRecord",
    "Summary",
    "TrainConfig",
    "TrainResult",
    "TrainingInterrupted",
    "accuracies",
    "check_model_option_names",
    "check_node_data",
    "check_seeds",
    "data_fingerprint",
    "effective_model_options",
    "fit",
    "full_batch_step",
    "layerwise_predict",
    "machine_info",
    "make_evaluator",
    "model_option_names",
    "predict",
    "resolve_device",
    "run_checkpoint_path",
    "run_node_classification",
    "versions",
]
