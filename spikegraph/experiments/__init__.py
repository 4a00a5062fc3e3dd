"""Experiment runners: what the CLI commands and the benchmark scripts call.

Each runner trains and scores over datasets, models and seeds with the library's parts
(:mod:`spikegraph.train`, :mod:`spikegraph.cost`, :mod:`spikegraph.samplers`) and returns
self-describing records; the CLI and ``benchmarks/`` only print and write them.

- :mod:`~spikegraph.experiments.node_classification`: ``spikegraph train``.
- :mod:`~spikegraph.experiments.cost`: ``spikegraph cost`` and ``benchmarks/energy.py``.
- :mod:`~spikegraph.experiments.study`: ``spikegraph study samplers`` and
  ``benchmarks/sampler_study.py`` (the sampler comparison study: tables, plots, resumable);
  :mod:`~spikegraph.experiments.gradient_error` measures the gradient's bias and variance
  for it and for ``benchmarks/samplers_variance.py``.
- :mod:`~spikegraph.experiments.tune`: ``spikegraph tune`` and ``benchmarks/tune_sweeps.py``
  (validation-only tuning with Optuna; imported by name, it needs the ``tune`` extra).
"""

from spikegraph.experiments.cost import (
    CostComparison,
    ModelCost,
    cost_comparison,
    load_tuned_config,
    model_cost,
)
from spikegraph.experiments.node_classification import (
    RunInterrupted,
    RunRecord,
    Summary,
    TrainedRun,
    check_seeds,
    cpu_kind,
    effective_model_options,
    machine_info,
    run_node_classification,
    versions,
)
from spikegraph.experiments.study import StudyBudget, StudyResult, run_sampler_study

__all__ = [
    "CostComparison",
    "ModelCost",
    "RunInterrupted",
    "RunRecord",
    "StudyBudget",
    "StudyResult",
    "Summary",
    "TrainedRun",
    "check_seeds",
    "cost_comparison",
    "cpu_kind",
    "effective_model_options",
    "load_tuned_config",
    "machine_info",
    "model_cost",
    "run_node_classification",
    "run_sampler_study",
    "versions",
]
