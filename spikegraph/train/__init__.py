"""Training loops for node classification: full batch and mini-batch, checkpoints, devices,
layer-wise inference. The experiment runners that use them are :mod:`spikegraph.experiments`."""

from spikegraph.train.checkpoint import (
    CheckpointError,
    CheckpointInUseError,
    CheckpointMismatchError,
    data_fingerprint,
    run_checkpoint_path,
)
from spikegraph.train.device import DeviceError, resolve_device
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
    "TrainConfig",
    "TrainResult",
    "TrainingInterrupted",
    "accuracies",
    "check_node_data",
    "data_fingerprint",
    "fit",
    "full_batch_step",
    "layerwise_predict",
    "make_evaluator",
    "predict",
    "resolve_device",
    "run_checkpoint_path",
]
