"""Studies: one command that runs a comparison and writes its tables and plots.

:func:`run_sampler_study` (``spikegraph study samplers``) compares the samplers of
:mod:`spikegraph.samplers` on one dataset with the same models and the same budget, along
the axes of the survey by Liu et al. ("Sampling Methods for Efficient Training of Graph
Convolutional Networks: A Survey", arXiv 2021, IEEE/CAA Journal of Automatica Sinica 2022).

- :mod:`~spikegraph.experiments.study.budget`: the budget every cell gets, batch sizes;
- :mod:`~spikegraph.experiments.study.cells`: cell files, their keys, locks;
- :mod:`~spikegraph.experiments.study.measure`: what is measured on a trained cell;
- :mod:`~spikegraph.experiments.study.runner`: planning, resuming, parallel cells;
- :mod:`~spikegraph.experiments.study.summary`: rows over the seeds, the markdown report;
- :mod:`~spikegraph.experiments.study.plots`: the plots (matplotlib, the ``plot`` extra).
"""

from spikegraph.experiments.study.budget import (
    FULL_BATCH,
    GRADIENT_WEIGHTS,
    StudyBudget,
    budget_option,
    sampler_family,
    scaled_budget,
)
from spikegraph.experiments.study.cells import (
    Cell,
    StudyFileError,
    StudyMismatchError,
)
from spikegraph.experiments.study.runner import (
    StudyCellError,
    StudyInterrupted,
    StudyResult,
    plan_study,
    run_sampler_study,
)

__all__ = [
    "FULL_BATCH",
    "GRADIENT_WEIGHTS",
    "Cell",
    "StudyBudget",
    "StudyCellError",
    "StudyFileError",
    "StudyInterrupted",
    "StudyMismatchError",
    "StudyResult",
    "budget_option",
    "plan_study",
    "run_sampler_study",
    "sampler_family",
    "scaled_budget",
]
