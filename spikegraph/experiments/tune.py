r"""One tuning protocol for every model: Optuna's TPE on validation accuracy only.

The protocol (the same for spiking and ordinary models, stated by :func:`protocol_sentence`
beside every table built from it):

1. Each model's search space is the one declared in
   :data:`~spikegraph.models.search_space.SEARCH_SPACES` (learning rate, weight decay,
   dropout, width, the features' preprocessing; for spiking models also the time steps, the
   neuron and the normalisation, with STFN's :math:`\rho` where a normalisation is used).
2. Every model gets the same :class:`Budget`: the same number of trials, each trained with
   the same seeds (``Budget.seeds``, three by default), epochs and patience.
3. A trial's score is the mean over those seeds of the best-validation-epoch validation
   accuracy (:func:`~spikegraph.train.fit` keeps the weights of the best validation epoch):

   .. math::
       s(\theta) = \frac{1}{|S|} \sum_{s \in S} \max_{e \le E} \mathrm{acc}_{val}(\theta, s, e)

   During tuning no test label is ever read: the graph handed to training has its test
   labels replaced by ``-1`` and its test mask replaced by the validation mask
   (:func:`hide_test_labels`).
4. The configuration with the best score among the budget's first counted trials (ties: the
   earlier trial) is selected. With a re-scoring stage (:class:`Rescore`, :func:`rescore`),
   the few best trials are first trained again on other seeds (:data:`RESCORE_SEEDS`),
   test labels still hidden, and the best of them there is selected instead: a sweep's best
   score is the maximum of many noisy few-seed means, biased towards the trial that was
   lucky on the tuning seeds.
5. The selected configuration is trained on 10 fresh seeds (:data:`FINAL_SEEDS`, none used
   in tuning or re-scoring), and only then is its test accuracy read, once per seed
   (:func:`final_evaluation`).

Studies live in an Optuna storage (any SQLAlchemy database URL; ``sqlite:///file.db`` by
default), so several processes or machines can run trials of one study against one
database, and a killed sweep resumes: finished trials are kept, and a trial whose worker
died stops sending heartbeats, is marked failed after the grace period and is retried with
the same parameters; failed trials never count towards the budget. The final evaluation can
be stored there too (:func:`final_evaluation` with a ``storage``), one trial per seed, shared
and resumed in the same way. The database is scratch; the trial records are what is kept
(:func:`study_records`). A sweep whose database is gone resumes from its unfinished record
on another machine (``run_study(..., resume_from=records)``): the trials come back under
their numbers (:func:`restore_trials`), so it goes on as it would have in the lost database.
Within a trial, each seed's finished run is kept on the trial (``seed_runs``, and in the
record written after it, ``run_study(..., on_seed=...)``): the retry of a trial stopped
mid-way (a dead worker, Ctrl-C, a lost database) trains only its missing seeds, when the
kept runs were made by the same code on the same hardware kind (:func:`kept_seed_runs`).

Trial seeds: every new trial's parameters come from a TPE sampler seeded with
``(sampler_seed, number of new trials drawn before it)`` (:func:`fresh_trial_count`; a retry
runs with the parameters of the trial it retries), so one worker running a study from start
to end always draws the same sequence, also when it was stopped by Ctrl-C and resumed (the
stopped trial's retry does not shift the draws after it). With several workers, which
worker draws which trial, and so what the sampler has seen when it draws, depends on
timing: parallel sweeps are valid but not repeatable trial for trial. A trial's own score
is always reproducible from its record (:func:`reproduce_trial`).

Requires Optuna (``pip install spikegraph[tune]``).
"""

from __future__ import annotations

import copy
import json
import math
import random
import statistics
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch_geometric.data import Data
from torch_geometric.transforms import NormalizeFeatures

from spikegraph._io import atomic_write
from spikegraph._provenance import code_identity, source_commit
from spikegraph.datasets import DATASETS, load_dataset
from spikegraph.experiments.node_classification import check_seeds, cpu_kind, versions
from spikegraph.models import build_model
from spikegraph.models.checks import check_model_options
from spikegraph.models.options import check_model_option_names
from spikegraph.models.registry import model_defaults
from spikegraph.models.search_space import (
    FEATURES,
    SPACE_VERSION,
    Param,
    SearchSpace,
    active,
    equivalent_versions,
    search_space,
    searched,
    split_params,
)
from spikegraph.train.checkpoint import differences, plain
from spikegraph.train.device import resolve_device
from spikegraph.train.trainer import NonFiniteLossError, TrainConfig, TrainResult, fit

if TYPE_CHECKING:  # pragma: no cover
    import optuna

#: The record format written by :func:`study_records`.
FORMAT = "spikegraph-tune/1"
#: Seeds of the final evaluation: ten seeds no tuning budget uses by default.
FINAL_SEEDS: tuple[int, ...] = tuple(range(100, 110))
#: Seconds between a running trial's heartbeats; a trial silent for twice as long is failed.
HEARTBEAT_INTERVAL = 60
#: Seconds between checks while a study waits for another worker's trial.
_WAIT_POLL = 0.5
#: How often a trial whose worker died is retried with the same parameters.
MAX_RETRY = 2
#: Trial states that use up the budget: finished, or stopped because training diverged.
COUNTED_STATES = ("COMPLETE", "PRUNED")
#: Trial states of a trial that has ended: counted, or failed (interrupted, or its worker died).
ENDED_STATES = (*COUNTED_STATES, "FAIL")


class TuneStorageError(ValueError):
    """The study's storage URL cannot be used (malformed, missing driver, unreachable)."""


class StudyMismatchError(ValueError):
    """A stored study (or record) belongs to another configuration than the one asked for."""


@dataclass(frozen=True)
class Budget:
    """What each model gets to be tuned with (the same for every model of a table).

    Attributes:
        trials: Trials that count (finished or diverged; failed ones are not counted).
        seeds: Training seeds of every trial; its score is their mean validation accuracy.
        epochs: Maximum epochs of each training run.
        patience: Early-stopping patience in epochs (``None``: none).
    """

    trials: int
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = TrainConfig.epochs
    patience: int | None = TrainConfig.patience

    def __post_init__(self) -> None:
        if isinstance(self.trials, bool) or not isinstance(self.trials, int) or self.trials < 1:
            raise ValueError(f"'trials' must be an int >= 1, got {self.trials!r}")
        object.__setattr__(self, "seeds", tuple(check_seeds(self.seeds)))
        TrainConfig(epochs=self.epochs, patience=self.patience)  # their own checks

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "trials": self.trials,
            "seeds": list(self.seeds),
            "epochs": self.epochs,
            "patience": self.patience,
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Budget:
        """The budget :meth:`to_dict` wrote."""
        return cls(
            trials=value["trials"],
            seeds=tuple(value["seeds"]),
            epochs=value["epochs"],
            patience=value["patience"],
        )


#: Seeds of the re-scoring stage (:class:`Rescore`): neither tuning nor final seeds.
RESCORE_SEEDS: tuple[int, ...] = tuple(range(10, 15))


@dataclass(frozen=True)
class Rescore:
    """The selection's second stage: the ``top`` best trials of a sweep, trained again on
    fresh validation ``seeds``; the best of them on those seeds is selected.

    A sweep's best score is biased upward: it is the maximum of many noisy few-seed means,
    and a trial lucky on the tuning seeds wins it. Re-scoring the few best trials on other
    seeds, with the test labels still hidden, selects among them on scores that the sweep's
    selection did not bias (:func:`rescore`).

    Attributes:
        top: How many of the sweep's best trials are trained again (``1``: no choice left).
        seeds: Their training seeds; none of the tuning seeds, nor of the final evaluation.
    """

    top: int
    seeds: tuple[int, ...] = RESCORE_SEEDS

    def __post_init__(self) -> None:
        if isinstance(self.top, bool) or not isinstance(self.top, int) or self.top < 1:
            raise ValueError(f"Rescore 'top' must be an int >= 1, got {self.top!r}")
        object.__setattr__(self, "seeds", tuple(check_seeds(self.seeds)))

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {"top": self.top, "seeds": list(self.seeds)}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Rescore:
        """The rule :meth:`to_dict` wrote."""
        return cls(top=value["top"], seeds=tuple(value["seeds"]))


@dataclass(frozen=True)
class StudyConfig:
    """Everything a study's trials must share; stored with the study and its records.

    Attributes:
        dataset: Dataset name (see :data:`~spikegraph.datasets.DATASETS`).
        model: Model name of :data:`~spikegraph.models.MODELS`.
        budget: The :class:`Budget`.
        split: ``"public"`` or ``"full"``.
        sampler_seed: Seed of the TPE sampler.
        commit: The spikegraph commit the trials ran at (:func:`source_commit`).
        fixed: Model options held fixed in every trial, over the registry's defaults (an
            ablation: ``{"norm": "none"}`` tunes ``gcsnn`` without STFN); none of them may be
            a parameter of the search space. A conditional parameter whose condition an
            option fixes (STFN's ``rho`` under ``norm="none"``) is not drawn.
        space_version: The version of the search spaces
            (:data:`~spikegraph.models.search_space.SPACE_VERSIONS`) the study draws from;
            by default the current one. Records name it (those without a name are of
            version 1), so studies of two versions are never mixed or compared, unless
            both versions declare the same space for the model
            (:func:`~spikegraph.models.search_space.equivalent_versions`).
    """

    dataset: str
    model: str
    budget: Budget
    split: str = "public"
    sampler_seed: int = 0
    commit: str | None = field(default=None)
    fixed: Mapping[str, Any] = field(default_factory=dict)
    space_version: int = SPACE_VERSION

    def __post_init__(self) -> None:
        # an unknown model or version, or a model without a space, fails here
        space = search_space(self.model, self.space_version)
        if not isinstance(self.fixed, Mapping):
            raise TypeError(f"'fixed' must be a mapping of model options, got {self.fixed!r}")
        tuned = sorted(set(self.fixed) & {p.name for p in space})
        if tuned:
            raise ValueError(
                f"Options {tuned} are parameters of {self.model!r}'s search space: a study "
                "cannot also hold them fixed"
            )
        unset = sorted(k for k, v in self.fixed.items() if v is None)
        if unset:
            raise ValueError(
                f"Fixed option {unset[0]!r} is None, which leaves the model's default in place: "
                "give the value to hold (e.g. norm='none')"
            )
        check_model_option_names(self.model, dict(self.fixed))
        check_model_options(self.model, dict(self.fixed))
        if self.fixed:
            check_fixed_builds(self.model, self.fixed, self.space_version)
        object.__setattr__(self, "fixed", dict(sorted(plain(dict(self.fixed)).items())))
        names = {d.lower(): d for d in DATASETS}
        if not isinstance(self.dataset, str) or self.dataset.lower() not in names:
            raise ValueError(f"Unknown dataset {self.dataset!r}; expected one of {list(DATASETS)}")
        object.__setattr__(self, "dataset", names[self.dataset.lower()])  # one spelling
        if self.split not in ("public", "full"):
            raise ValueError(f"'split' must be 'public' or 'full', got {self.split!r}")
        seed = self.sampler_seed
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"'sampler_seed' must be an int >= 0, got {seed!r}")

    @property
    def space(self) -> SearchSpace:
        """The search space this study draws from: the model's declared space less the
        parameters whose condition the fixed options and the preset's defaults never meet
        (:func:`~spikegraph.models.search_space.searched`)."""
        return searched(
            search_space(self.model, self.space_version),
            {**model_defaults(self.model), **self.fixed},
        )

    @property
    def label(self) -> str:
        """The model's name, with the options held fixed (``gcsnn (norm=none)``)."""
        return model_label(self.model, self.fixed)

    def to_dict(self) -> dict[str, Any]:
        """Plain data: what a stored study and its records are compared on."""
        return plain(
            {
                "format": FORMAT,
                "dataset": self.dataset,
                "model": self.model,
                "split": self.split,
                "budget": self.budget.to_dict(),
                "sampler": {"name": "TPESampler", "seed": self.sampler_seed},
                "objective": "mean over budget.seeds of the best-epoch validation accuracy",
                "space": [p.to_dict() for p in self.space],
                # from version 2 on: records of version 1 stay as they were
                **({"space_version": self.space_version} if self.space_version > 1 else {}),
                "commit": self.commit,
                # only when set: records of studies without fixed options stay as they were
                **({"fixed": dict(self.fixed)} if self.fixed else {}),
            }
        )

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> StudyConfig:
        """The configuration :meth:`to_dict` wrote (checked against the model's space)."""
        config = cls(
            dataset=value["dataset"],
            model=value["model"],
            budget=Budget.from_dict(value["budget"]),
            split=value["split"],
            sampler_seed=value["sampler"]["seed"],
            commit=value.get("commit"),
            fixed=value.get("fixed", {}),
            space_version=value.get("space_version", 1),
        )
        diffs = differences(value, config.to_dict())
        if diffs:
            raise StudyMismatchError(
                f"The record's configuration differs from this spikegraph's for model "
                f"{config.model!r}: {_describe(diffs)}"
            )
        return config


def check_fixed_builds(
    model: str, fixed: Mapping[str, Any], space_version: int = SPACE_VERSION, tries: int = 32
) -> None:
    """Refuse ``fixed`` options (:attr:`StudyConfig.fixed`) that model ``model`` cannot be
    built with, before any study is created: a value only the model's constructor checks
    (``norm="foo"``) would otherwise fail in every trial, after the study was stored.

    A small model (8 features, 2 classes) is built with the options over the registry's
    defaults and, where that fails, over up to ``tries`` combinations of the choices of the
    model's categorical parameters (space version ``space_version``), drawn with a fixed
    seed as a trial draws them (a parameter is drawn only where
    :func:`~spikegraph.models.search_space.active`: its condition holds and, for an option
    of the neuron, the neuron held fixed takes it): options that build with some trial's
    parameters are accepted. Torch's random state is left as it was.

    The check does not show that every trial builds: the registry's defaults are tried
    first, and the first build accepts the options. What a trial draws that the options
    rule out is left out of the space instead (:attr:`StudyConfig.space`).

    Raises:
        ValueError: naming the options, the model and the constructor's reason (for the
            registry's defaults).
    """
    space = search_space(model, space_version)
    categorical = [p for p in space if p.target == "model" and p.choices]
    defaults = {**model_defaults(model), **dict(fixed)}
    draw = random.Random(0)

    def drawn() -> dict[str, Any]:
        chosen: dict[str, Any] = {}
        for p in categorical:
            if active(p, chosen, defaults):
                chosen[p.name] = draw.choice(p.choices)
        return chosen

    candidates = [{}] + [drawn() for _ in range(tries if categorical else 0)]
    refusal = None
    for params in candidates:
        try:
            with torch.random.fork_rng(devices=[]):
                build_model(model, 8, 2, **{**params, **dict(fixed)})
            return
        except (ValueError, TypeError, KeyError) as err:
            refusal = refusal or err
    shown = ", ".join(f"{k}={v!r}" for k, v in sorted(fixed.items()))
    raise ValueError(
        f"The options held fixed ({shown}) are refused by model {model!r}: {refusal}"
    ) from refusal


def model_label(model: str, fixed: Mapping[str, Any] | None = None) -> str:
    """``model``, followed by the options a study held fixed, if any: ``gcsnn (norm=none)``."""
    if not fixed:
        return model
    return f"{model} ({', '.join(f'{k}={_fmt(v)}' for k, v in sorted(fixed.items()))})"


def protocol_sentence(
    budget: Budget, final_seeds: Sequence[int] = FINAL_SEEDS, rule: Rescore | None = None
) -> str:
    """The protocol in one sentence, for beside a table of tuned results (``rule``: the
    re-scoring stage, if the selection had one)."""
    second = (
        ""
        if rule is None
        else f"; the {_count(rule.top, 'best trial')} of each sweep were trained again on "
        f"{_count(len(rule.seeds), 'other seed')} and the best of them there was selected"
    )
    return (
        f"Every model's hyper-parameters (including raw vs row-normalised features) were "
        f"chosen by Optuna's TPE sampler on validation accuracy only, with the same budget "
        f"for every model ({budget.trials} trials, each scored by the mean best-epoch "
        f"validation accuracy over {_count(len(budget.seeds), 'seed')}, {budget.epochs} epochs, "
        f"patience {budget.patience}{second}); the table reports the test accuracy of the "
        f"selected configuration over {_count(len(final_seeds), 'fresh seed')} (mean ± "
        f"population standard deviation)."
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


# ----------------------------------------------------------------------------- data
def preprocess_features(data: Data, features: str) -> Data:
    """``data`` with its node features prepared as ``features`` says.

    ``"raw"``: as loaded (``data`` itself). ``"row-normalised"``: a copy whose feature rows
    sum to one, PyG's :class:`~torch_geometric.transforms.NormalizeFeatures`, the
    preprocessing of Kipf & Welling (ICLR 2017) and Velickovic et al. (ICLR 2018).

    Raises:
        ValueError: for another choice.
    """
    if features == "raw":
        return data
    if features == "row-normalised":
        return NormalizeFeatures()(copy.copy(data))
    raise ValueError(f"'features' must be one of {FEATURES}, got {features!r}")


def hide_test_labels(data: Data) -> Data:
    """A copy of ``data`` from which no test label can be read.

    Labels of the nodes outside the training and validation masks become ``-1`` (no class),
    and the test mask is replaced by the validation mask, so the trainer's per-epoch
    bookkeeping of a "test" accuracy measures validation nodes. Used for every training run
    of a tuning trial.
    """
    out = copy.copy(data)
    known = data.train_mask | data.val_mask
    out.y = torch.where(known, data.y, torch.full_like(data.y, -1))
    out.test_mask = data.val_mask.clone()
    return out


def train_runs(
    data: Data,
    num_classes: int,
    model: str,
    params: Mapping[str, Any],
    seeds: Sequence[int],
    epochs: int,
    patience: int | None,
    device: str = "cpu",
    fixed: Mapping[str, Any] | None = None,
    space_version: int = SPACE_VERSION,
) -> list[TrainResult]:
    """Train model ``model`` with a trial's ``params`` once per seed on ``data`` as given.

    The parameters are split by :func:`~spikegraph.models.search_space.split_params`
    (against the model's space of version ``space_version``); the
    ``features`` choice must already be applied to ``data``
    (:func:`preprocess_features`). ``fixed`` model options (:attr:`StudyConfig.fixed`) come
    under the trial's. Each run seeds torch with its seed before building the model, as
    :func:`~spikegraph.experiments.run_node_classification` does.

    Raises:
        NonFiniteLossError: when a run diverges.
    """
    model_options, train_options = trial_options(model, params, fixed, space_version)
    out = []
    for seed in seeds:
        torch.manual_seed(seed)
        net = build_model(model, data.num_features, num_classes, **model_options)
        config = TrainConfig(
            **train_options,
            epochs=epochs,
            patience=patience,
            seed=seed,
            progress=False,
            device=device,
        )
        out.append(fit(net, data, config))
    return out


def trial_options(
    model: str,
    params: Mapping[str, Any],
    fixed: Mapping[str, Any] | None = None,
    space_version: int = SPACE_VERSION,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The constructor and training options of a trial's ``params`` for ``model`` (whose
    search space of version ``space_version`` says where each parameter goes).

    ``fixed`` model options (:attr:`StudyConfig.fixed`) come under the trial's; the
    ``features`` choice (a data parameter) is not among them (:func:`preprocess_features`).

    Raises:
        ValueError: for a parameter outside the model's search space or an invalid option.
    """
    model_options, train_options, _ = split_params(params, search_space(model, space_version))
    model_options = {**(fixed or {}), **model_options}
    check_model_options(model, model_options)
    return model_options, train_options


@dataclass(frozen=True)
class SelectedConfig:
    """The validation-selected configuration of a finished cell, as its final evaluation
    trained it (:func:`final_evaluation`), to train again, e.g. to count its cost.

    Training with ``train_options`` and each of ``seeds`` (torch seeded with it before the
    model is built) on the dataset preprocessed as ``features`` repeats the final
    evaluation: on the hardware kind (:func:`ran_on`) and device of the record, the test
    accuracies equal ``test_acc``.

    Attributes:
        dataset: Dataset name.
        model: Registered model name.
        trial: Number of the selected trial.
        features: Feature preprocessing (:func:`preprocess_features`).
        model_options: Constructor options (the trial's, over the study's fixed options).
        train_options: :class:`~spikegraph.train.TrainConfig` fields: the trial's, with the
            budget's ``epochs`` and ``patience``.
        seeds: The final evaluation's seeds.
        test_acc: Its test accuracy per seed.
        commit: The spikegraph commit the study ran at (``None`` if unknown).
    """

    dataset: str
    model: str
    trial: int
    features: str
    model_options: dict[str, Any]
    train_options: dict[str, Any]
    seeds: tuple[int, ...]
    test_acc: tuple[float, ...]
    commit: str | None


def selected_config(records: Mapping[str, Any]) -> SelectedConfig:
    """The validation-selected configuration of ``records`` (:func:`read_records`), whose
    final evaluation has run.

    Raises:
        ValueError: when the record has no final evaluation.
        StudyMismatchError: for a record of another search space than this spikegraph's.
    """
    config = StudyConfig.from_dict(records["config"])
    final = records.get("final")
    if not final:
        raise ValueError(
            f"Study {records.get('study')!r} has no final evaluation: nothing was selected "
            "(run the sweep to its end first)"
        )
    model_options, train_options = trial_options(
        config.model, final["params"], config.fixed, config.space_version
    )
    budget = config.budget
    return SelectedConfig(
        dataset=config.dataset,
        model=config.model,
        trial=final["trial"],
        features=final["features"],
        model_options=model_options,
        train_options={**train_options, "epochs": budget.epochs, "patience": budget.patience},
        seeds=tuple(final["seeds"]),
        test_acc=tuple(final["test_acc"]),
        commit=config.commit,
    )


class _Graphs:
    """The dataset, loaded once, and its preprocessed variants (test labels hidden or not)."""

    def __init__(self, config: StudyConfig, root: str | None) -> None:
        self.data, self.num_classes = load_dataset(config.dataset, root=root, split=config.split)
        self._views: dict[tuple[str, bool], Data] = {}

    def get(self, features: str, hidden: bool) -> Data:
        key = (features, hidden)
        if key not in self._views:
            view = preprocess_features(self.data, features)
            self._views[key] = hide_test_labels(view) if hidden else view
        return self._views[key]


# ----------------------------------------------------------------------------- sampling
def sample_params(
    trial: optuna.trial.BaseTrial,
    model: str,
    fixed: Mapping[str, Any] | None = None,
    space_version: int = SPACE_VERSION,
) -> dict[str, Any]:
    """Draw a trial's parameters from model ``model``'s declared search space (of version
    ``space_version``).

    A conditional parameter (``Param.when``) is drawn only when its condition holds for the
    values drawn before it or, for an option the space does not tune, the option held
    ``fixed`` or else the model's registry default.
    """
    defaults = {**model_defaults(model), **(fixed or {})}
    chosen: dict[str, Any] = {}
    for param in search_space(model, space_version):
        if active(param, chosen, defaults):
            chosen[param.name] = _suggest(trial, param)
    return chosen


def _suggest(trial: optuna.trial.BaseTrial, p: Param) -> Any:
    if p.choices:
        return trial.suggest_categorical(p.name, list(p.choices))
    if p.integer:
        return trial.suggest_int(p.name, int(p.low), int(p.high), step=int(p.step or 1), log=p.log)
    return trial.suggest_float(p.name, p.low, p.high, step=p.step, log=p.log)


def trial_sampler_seed(sampler_seed: int, trial_index: int) -> int:
    """The TPE sampler seed used to draw the ``trial_index``-th new trial of a study (counted
    from 0 by :func:`fresh_trial_count`: retries, which take their parameters from the trial
    they retry, are not counted)."""
    return (sampler_seed * 1_000_003 + trial_index) % (2**32)


def fresh_trial_count(trials: Sequence[Any]) -> int:
    """How many of ``trials`` drew their own parameters: every trial but the retries of a
    failed one (which carry the ``failed_trial`` it retries, as attribute of an Optuna trial
    or as key of a trial record of :func:`study_records`).

    The next new trial's sampler is seeded with this index (:func:`trial_sampler_seed`), so
    a sweep stopped by Ctrl-C, whose stopped trial then fails and is retried under a new
    number, goes on drawing the parameters that the uninterrupted sweep draws. Studies run
    until commit 5cd0f6b (the parent of the commit that made this change) seeded it with the
    number of trials in the study, retries and failed trials included; their records are
    read as before (a record is resumed only at its own commit, :func:`check_record_config`),
    and only the draws of a study resumed after an interrupt differ.
    """
    return sum(_retried_trial(t) is None for t in trials)


def _retried_trial(trial: Any) -> int | None:
    """The number of the trial that ``trial`` (an Optuna trial or a trial record) retries;
    ``None`` for a trial that drew its own parameters."""
    if isinstance(trial, Mapping):
        return trial.get("failed_trial")
    return trial.system_attrs.get("failed_trial")


def check_seed_option(seeds: Sequence[int], name: str) -> list[int]:
    """``seeds`` as a list if they are distinct ints ``>= 0`` (the rules of
    :func:`~spikegraph.experiments.check_seeds`), else an error that calls them ``name``:
    the option they came from (``"--final-seeds"``), so a command checks them before any
    trial runs and says which of its seed lists is wrong.

    Raises:
        ValueError: naming ``name`` and the seed at fault (negative, not an int, or repeated).
    """
    return check_seeds(list(seeds), name)


# ----------------------------------------------------------------------------- storage
def check_storage_url(url: str) -> str:
    """``url`` if it names a database Optuna can store a study in, else a clear error.

    Any SQLAlchemy URL is accepted (``sqlite:///path.db``, ``postgresql://user@host/db``,
    ``mysql+pymysql://...``); for SQLite the database file's folder must exist.

    Raises:
        TuneStorageError: naming the URL and what is wrong with it.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if not isinstance(url, str) or not url.strip():
        raise TuneStorageError(f"The storage must be a database URL string, got {url!r}")
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise TuneStorageError(
            f"Storage {url!r} is not a database URL (expected e.g. sqlite:///tune.db or "
            f"postgresql://user@host/db): {err}"
        ) from err
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if not db or db == ":memory:":
            raise TuneStorageError(
                f"Storage {url!r} is an in-memory SQLite database: a study there is lost when "
                "the process ends and cannot be shared; give a file, e.g. sqlite:///tune.db"
            )
        folder = Path(db).expanduser().resolve().parent
        if not folder.is_dir():
            raise TuneStorageError(
                f"Storage {url!r}: the folder {folder} of its database file does not exist"
            )
    return url


def open_study(
    storage: str,
    study_name: str,
    config: StudyConfig,
    heartbeat_interval: int = HEARTBEAT_INTERVAL,
    resume_from: Mapping[str, Any] | None = None,
) -> optuna.Study:
    """Create study ``study_name`` in ``storage``, or load it to resume or join it.

    The study stores ``config``; loading a study stored with another configuration (another
    dataset, model, budget, search space or commit) is refused, so that one study never
    mixes trials of two protocols. Running trials send a heartbeat every
    ``heartbeat_interval`` seconds; one silent for ``2 * heartbeat_interval`` seconds (its
    worker was killed) is marked failed when a worker next starts a trial, and retried with
    the same parameters up to :data:`MAX_RETRY` times.

    With ``resume_from`` (the records of this study made elsewhere), the process that
    creates the study fills it from them before any other can join
    (:func:`restore_trials`); a process that joins checks that the study holds the
    record's finished trials.

    Raises:
        TuneStorageError: for a storage URL that cannot be used.
        StudyMismatchError: for a study stored with another configuration, or records of
            another configuration or history than the study's.
    """
    setup = None
    if resume_from is not None:
        check_record_config(resume_from, config)

        def setup(study: optuna.Study) -> None:
            restore_trials(study, resume_from, config)

    return _open(storage, study_name, config.to_dict(), heartbeat_interval, setup)


def _open(
    storage: str,
    study_name: str,
    key: dict[str, Any],
    heartbeat_interval: int,
    setup: Callable[[optuna.Study], None] | None = None,
) -> optuna.Study:
    """Create or load study ``study_name``, refusing one stored under another ``key``.

    ``setup`` runs on the study once it is open: in the process that creates it, before the
    study's key is stored (a process that joins waits for the key, so it never sees the
    study half set up), and in a process that joins, after the key is checked."""
    import optuna
    from optuna.storages import RDBStorage

    check_storage_url(storage)
    if not isinstance(study_name, str) or not study_name:
        raise ValueError(f"'study_name' must be a non-empty string, got {study_name!r}")
    if isinstance(heartbeat_interval, bool) or not isinstance(heartbeat_interval, int):
        raise TypeError(f"'heartbeat_interval' must be an int, got {heartbeat_interval!r}")
    if heartbeat_interval < 1:
        raise ValueError(f"'heartbeat_interval' must be >= 1, got {heartbeat_interval}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            rdb = RDBStorage(
                storage,
                heartbeat_interval=heartbeat_interval,
                grace_period=2 * heartbeat_interval,
                **_retry_callback(),
            )
        except ImportError as err:
            raise TuneStorageError(
                f"Storage {storage!r}: its database driver is not installed ({err})"
            ) from err
        except Exception as err:  # SQLAlchemy's errors: unreachable server, bad file...
            raise TuneStorageError(
                f"Storage {storage!r} cannot be opened ({type(err).__name__}: "
                f"{str(err).splitlines()[0][:300]})"
            ) from err
    try:
        study = optuna.create_study(storage=rdb, study_name=study_name, direction="maximize")
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(storage=rdb, study_name=study_name)
        created = False
    want = plain(key)
    if created:
        if setup is not None:
            setup(study)
        study.set_user_attr("config", want)
        return study
    diffs = differences(_stored_key(study, storage, 2 * heartbeat_interval), want)
    if diffs:
        raise StudyMismatchError(
            f"Study {study_name!r} in {storage} was run with another configuration "
            f"({_describe(diffs)}); trials of two configurations are never mixed: use "
            "another study name or storage"
        )
    if setup is not None:
        setup(study)
    return study


def _stored_key(study: optuna.Study, storage: str, wait: float) -> dict[str, Any]:
    """The key stored with ``study``, waiting up to ``wait`` seconds for the process that
    created the study to set it up and store it."""
    deadline = time.monotonic() + wait
    while (stored := study.user_attrs.get("config")) is None:
        if time.monotonic() > deadline:
            raise TuneStorageError(
                f"Study {study.study_name!r} in {storage} was created but never set up (its "
                "configuration is not stored: the process that created it stopped first); "
                "delete it (optuna delete-study) or use another study name"
            )
        time.sleep(_WAIT_POLL)
    return stored


def _retry_callback() -> dict[str, Any]:
    """The storage's option that retries a stale trial (renamed in Optuna 4.9)."""
    from optuna import storages

    if hasattr(storages, "RetryHeartbeatStaleTrialCallback"):  # Optuna >= 4.9
        callback = storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
        return {"heartbeat_stale_trial_callback": callback}
    return {"failed_trial_callback": storages.RetryFailedTrialCallback(max_retry=MAX_RETRY)}


def _describe(diffs: list[tuple[str, Any, Any]]) -> str:
    return "; ".join(f"{k}: stored {a!r}, now {b!r}" for k, a, b in diffs[:5]) + (
        f"; and {len(diffs) - 5} more" if len(diffs) > 5 else ""
    )


def _distribution(p: Param) -> Any:
    """The Optuna distribution :func:`_suggest` draws parameter ``p`` from."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if p.choices:
        return CategoricalDistribution(list(p.choices))
    if p.integer:
        return IntDistribution(int(p.low), int(p.high), log=p.log, step=int(p.step or 1))
    return FloatDistribution(p.low, p.high, log=p.log, step=p.step)


#: Trial record keys restored as the trial's user attributes (set by the objective), and as
#: its system attributes (set by Optuna's retry of a trial whose worker died). ``ran_on``:
#: the hardware a trial trained on (:func:`ran_on`; absent from records made before it was
#: kept).
_USER_ATTRS = ("seeds", "val_scores", "best_epochs", "diverged", "ran_on", "seed_runs")
_SYSTEM_ATTRS = ("failed_trial", "retry_history")


def check_record_config(records: Mapping[str, Any], config: StudyConfig) -> None:
    """Refuse to resume a study of ``config`` from ``records`` of another configuration.

    Raises:
        StudyMismatchError: naming the differences (the commit among them: trials of two
            commits are never mixed).
    """
    diffs = differences(plain(records["config"]), plain(config.to_dict()))
    if diffs:
        raise StudyMismatchError(
            f"The record of study {records.get('study')!r} was made under another "
            f"configuration ({_describe(diffs)}); trials of two configurations are never "
            "mixed: resume it from a checkout of the record's commit, or start a new record"
        )


def restore_trials(study: optuna.Study, records: Mapping[str, Any], config: StudyConfig) -> int:
    """Put the trials of a committed record back into ``study``, an empty study of the same
    configuration, so that a sweep stopped on one machine continues on another.

    The local study database is scratch (never committed); the trial records are. A sweep
    whose database is gone (another machine, a new session) resumes from its record: every
    trial comes back under its number with its parameters, score and per-seed attributes, so
    the study holds what the database held and the next trial's sampler, seeded by the
    number of new trials among them (:func:`fresh_trial_count`), draws what it would have
    drawn there. A trial the
    record lists as running had a worker that is gone: it is restored as failed and retried
    with its parameters, as a lapsed heartbeat would have it. The runs of a stopped
    re-scoring or final evaluation come back from the record separately, when that stage
    runs again (:func:`stage_record`).

    Args:
        study: The study to fill (:func:`open_study`): an empty one, or one that already
            holds the record's finished trials, and perhaps later ones (then nothing is
            added).
        records: Records (:func:`study_records`) of an unfinished study.
        config: The study's configuration; the record's must equal it, commit included.

    Returns:
        The number of trials restored (0 when the study already held them).

    Raises:
        StudyMismatchError: for a record of another configuration, or a study whose trials
            differ from the record's.
        ValueError: for a record whose trial numbers are not 0, 1, 2, ...
    """
    import optuna
    from optuna.trial import TrialState

    check_record_config(records, config)
    trials = sorted(records["trials"], key=lambda t: t["number"])
    numbers = [t["number"] for t in trials]
    if numbers != list(range(len(trials))):
        raise ValueError(f"The record's trial numbers are not 0..{len(trials) - 1}: {numbers}")
    held = study.get_trials(deepcopy=False)
    if held:
        by_number = {t.number: t for t in held}
        for t in trials:
            if t["state"] not in ENDED_STATES:
                continue
            h = by_number.get(t["number"])
            if h is None or (h.state.name, h.params, h.value) != (
                t["state"],
                t["params"],
                t["value"],
            ):
                raise StudyMismatchError(
                    f"Study {study.study_name!r} already holds trials, and its trial "
                    f"{t['number']} differs from the record's: resume either from the "
                    "storage or from the record, in a fresh storage"
                )
        return 0
    space = {p.name: p for p in config.space}
    gone = []
    for t in trials:
        state = t["state"]
        if state == "RUNNING":
            state = "FAIL"
            gone.append(t["number"])
        user = {k: t[k] for k in _USER_ATTRS if t.get(k) is not None}
        system = {k: t[k] for k in _SYSTEM_ATTRS if t.get(k) is not None}
        study.add_trial(
            optuna.trial.create_trial(
                state=TrialState[state],
                value=t["value"] if state == "COMPLETE" else None,
                params=t["params"],
                distributions={name: _distribution(space[name]) for name in t["params"]},
                user_attrs=user,
                system_attrs=system,
            )
        )
    if gone:
        restored = study.get_trials(deepcopy=False)
        for number in gone:
            _queue_retry(study, restored[number])
    return len(trials)


def counted_trials(trials: Sequence[Mapping[str, Any]], budget: Budget) -> list[dict[str, Any]]:
    """The trials (records of :func:`study_records`) that make up the budget: the first
    ``budget.trials`` finished or diverged ones, by trial number. Parallel workers may run a
    few more; those are recorded but never selected from."""
    done = sorted((t for t in trials if t["state"] in COUNTED_STATES), key=lambda t: t["number"])
    return [dict(t) for t in done[: budget.trials]]


# ----------------------------------------------------------------------------- the study
def run_study(
    config: StudyConfig,
    storage: str,
    study_name: str,
    root: str | None = None,
    device: str = "cpu",
    heartbeat_interval: int = HEARTBEAT_INTERVAL,
    resume_from: Mapping[str, Any] | None = None,
    on_trial: Callable[[dict[str, Any]], None] | None = None,
    on_seed: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run (or resume, or join) the study until its budget of counted trials is reached.

    Each trial draws its parameters (:func:`sample_params`), trains one run per budget seed
    on the graph without its test labels (:func:`hide_test_labels`) and scores the mean of
    the runs' best validation accuracies. A trial whose training diverges is recorded as
    pruned (it counts, with no score); an interrupted one (Ctrl-C) as failed (it does not
    count) and queued for a retry with its parameters: running again resumes the study
    with it, as a dead worker's trial is retried. A retried trial trains only the seeds
    that its stopped attempt did not finish (:func:`kept_seed_runs`).

    Args:
        config: What to tune, and the budget.
        storage: Database URL of the study (:func:`check_storage_url`).
        study_name: The study's name in the storage.
        root: Data root.
        device: Where to train (``"cpu"``: the same scores on every machine of one CPU kind,
            :func:`ran_on`).
        heartbeat_interval: See :func:`open_study`.
        resume_from: Records of this study made elsewhere (an unfinished record written
            by ``on_trial``): an empty study starts from their trials
            (:func:`restore_trials`).
        on_trial: Called with the study's records after each trial this process runs
            (to keep a record of an unfinished sweep, from which another machine can
            resume it).
        on_seed: Called with the study's records after each seed of a trial this process
            finishes before the trial's last (the running trial then lists its finished
            seeds as ``seed_runs``), so that a record kept between trials also keeps the
            part of a long trial that is done.

    Returns:
        The study's records (:func:`study_records`).
    """
    import optuna

    study = open_study(storage, study_name, config, heartbeat_interval, resume_from)
    graphs = _Graphs(config, root)
    budget = config.budget

    running: list[int] = []  # the number of the trial this process runs

    def objective(trial: optuna.Trial) -> float:
        running[:] = [trial.number]
        params = sample_params(trial, config.model, config.fixed, config.space_version)
        features = params.get("features", "raw")
        here, code = ran_on(device), code_identity()
        trial.set_user_attr("seeds", list(budget.seeds))
        trial.set_user_attr("ran_on", here)
        runs = kept_seed_runs(trial.user_attrs.get("seed_runs"), budget.seeds, here, code)
        try:
            for seed in budget.seeds:
                if seed in runs:
                    continue
                (run,) = train_runs(
                    graphs.get(features, hidden=True),
                    graphs.num_classes,
                    config.model,
                    params,
                    [seed],
                    budget.epochs,
                    budget.patience,
                    device,
                    config.fixed,
                    config.space_version,
                )
                runs[seed] = {"seed": seed, "val_acc": run.val_acc, "best_epoch": run.best_epoch}
                if len(runs) < len(budget.seeds):
                    done = [runs[s] for s in budget.seeds if s in runs]
                    trial.set_user_attr("seed_runs", {"code": code, "ran_on": here, "runs": done})
                    if on_seed is not None:
                        on_seed(study_records(study, config))
        except NonFiniteLossError as err:
            trial.set_user_attr("diverged", str(err))
            raise optuna.TrialPruned(str(err)) from err
        ordered = [runs[s] for s in budget.seeds]
        trial.set_user_attr("val_scores", [r["val_acc"] for r in ordered])
        trial.set_user_attr("best_epochs", [r["best_epoch"] for r in ordered])
        return statistics.fmean(r["val_acc"] for r in ordered)

    while True:
        trials = study.get_trials(deepcopy=False)
        done = sum(t.state.name in COUNTED_STATES for t in trials)
        if done >= budget.trials:
            break
        if done + sum(t.state.name == "RUNNING" for t in trials) >= budget.trials:
            # Other workers run the rest of the budget: wait for them rather than start a
            # trial that would not count. A dead worker's trial fails once its heartbeat
            # lapses, and its retry (same parameters) is then run here.
            _fail_stale_and_wait(study)
            continue
        # Seeded by the new trials drawn so far: a retry (which Optuna runs first, with its
        # own parameters) and the trial it retries do not shift the draws after them.
        study.sampler = optuna.samplers.TPESampler(
            seed=trial_sampler_seed(config.sampler_seed, fresh_trial_count(trials))
        )
        running.clear()
        try:
            study.optimize(objective, n_trials=1, catch=())
        except KeyboardInterrupt:
            _retry_interrupted(study, running)
            raise
        if on_trial is not None:
            on_trial(study_records(study, config))
    # Parallel workers: a trial numbered below the last counted one that another worker is
    # still running counts before it (counted_trials goes by number). Wait for it to finish,
    # or for its worker's heartbeat to lapse (then it fails and does not count), so that the
    # selection never depends on which worker reached the budget first.
    while _running_before_last_counted(study.get_trials(deepcopy=False), budget):
        _fail_stale_and_wait(study)
    return study_records(study, config)


def kept_seed_runs(
    kept: Mapping[str, Any] | None,
    seeds: Sequence[int],
    here: str,
    code: Mapping[str, Any],
) -> dict[int, dict[str, Any]]:
    """The finished seed runs a stopped attempt of a trial kept (its ``seed_runs``
    attribute, which Optuna's retry copies to the retried trial), by seed, that a retry may
    use instead of training them again.

    A run is used only where training it again would give the same numbers: made on the
    same hardware kind (``here``, :func:`ran_on`) by the same code (``code``,
    :func:`code_identity`), for one of the trial's ``seeds``. Code with uncommitted changes
    cannot be told apart from other such code, so runs made by it are never used. Runs that
    are not used are trained again, with a warning that says why.
    """
    if not kept:
        return {}
    why = None
    if kept.get("ran_on") != here:
        why = f"they ran on {kept.get('ran_on')!r}, this process on {here!r}"
    elif plain(kept.get("code")) != plain(code):
        why = "they were made by other code (another commit or package versions)"
    elif "uncommitted" in str((code or {}).get("commit")):
        why = "the checkout has uncommitted changes, so the code that made them is unknown"
    if why is not None:
        warnings.warn(
            f"The trial's {len(kept.get('runs', ()))} finished seed run(s) from a stopped "
            f"attempt are trained again: {why}",
            stacklevel=2,
        )
        return {}
    return {r["seed"]: dict(r) for r in kept.get("runs", ()) if r["seed"] in seeds}


def _retry_interrupted(study: optuna.Study, running: Sequence[int]) -> None:
    """Queue a retry (same parameters, its finished seeds kept) of the trial this process
    was running when it was interrupted, which Optuna marked failed."""
    if not running:
        return
    (trial,) = (t for t in study.get_trials(deepcopy=False) if t.number == running[0])
    if trial.state.name == "FAIL":
        _queue_retry(study, trial)


def _queue_retry(study: optuna.Study, trial: Any) -> None:
    """Queue a retry of failed ``trial`` (its parameters and attributes, up to
    :data:`MAX_RETRY` times), as the storage does for a trial whose heartbeat lapsed."""
    import optuna

    with warnings.catch_warnings():  # experimental in Optuna 4, and used as documented
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        next(iter(_retry_callback().values()))(study, trial)


def _fail_stale_and_wait(study: optuna.Study) -> None:
    """Fail the trials whose worker's heartbeat lapsed (they are retried), then pause before
    looking at the study again."""
    import optuna

    with warnings.catch_warnings():  # experimental in Optuna 4, and used as documented
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    time.sleep(_WAIT_POLL)


def _running_before_last_counted(trials: Sequence[Any], budget: Budget) -> bool:
    """Whether an Optuna trial still running has a lower number than the last of the first
    ``budget.trials`` counted ones (it would take that one's place once finished)."""
    done = sorted(t.number for t in trials if t.state.name in COUNTED_STATES)
    if len(done) < budget.trials:
        return False
    last = done[budget.trials - 1]
    return any(t.state.name == "RUNNING" and t.number < last for t in trials)


def study_records(study: optuna.Study, config: StudyConfig) -> dict[str, Any]:
    """A study as plain data, to commit beside the results it selected.

    Returns:
        ``{"format", "study", "config", "versions", "trials", "counted", "best"}``: the
        configuration (:meth:`StudyConfig.to_dict`), every trial (number, state, parameters,
        per-seed validation scores, their mean, best epochs; a retried trial names the
        trial it retries), the numbers of the counted trials (:func:`counted_trials`), and
        the best of them (``None`` if none finished).
    """
    trials = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        attrs = t.user_attrs
        record = {
            "number": t.number,
            "state": t.state.name,
            "params": dict(t.params),
            "seeds": attrs.get("seeds"),
            "val_scores": attrs.get("val_scores"),
            "value": t.value,
            "best_epochs": attrs.get("best_epochs"),
        }
        for key in ("diverged", "ran_on", "failed_trial", "retry_history"):
            if key in attrs or key in t.system_attrs:
                record[key] = attrs.get(key, t.system_attrs.get(key))
        if "seed_runs" in attrs and t.state.name not in COUNTED_STATES:
            record["seed_runs"] = attrs["seed_runs"]  # an unfinished trial's finished seeds
        trials.append(record)
    records = {
        "format": FORMAT,
        "study": study.study_name,
        "config": config.to_dict(),
        "versions": versions(),
        "trials": trials,
    }
    counted = counted_trials(trials, config.budget)
    records["counted"] = [t["number"] for t in counted]
    records["best"] = best_trial(records)
    return plain(records)


def ranked_trials(records: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The counted trials that finished, best score first (the earlier one among equal
    scores): the order in which the selection considers them."""
    budget = Budget.from_dict(records["config"]["budget"])
    finished = [t for t in counted_trials(records["trials"], budget) if t["state"] == "COMPLETE"]
    return [dict(t) for t in sorted(finished, key=lambda t: (-t["value"], t["number"]))]


def best_trial(records: Mapping[str, Any]) -> dict[str, Any] | None:
    """The counted trial with the highest score (the earlier one among equal scores);
    ``None`` when no counted trial finished."""
    ranked = ranked_trials(records)
    return ranked[0] if ranked else None


def selected_trial(records: Mapping[str, Any]) -> dict[str, Any] | None:
    """The trial the final evaluation trains: the re-scoring stage's choice where the record
    holds one (:func:`rescore`), else the best counted trial (:func:`best_trial`)."""
    chosen = records.get("rescore")
    if chosen:
        return trial_record(records, chosen["trial"])
    return best_trial(records)


def rescore(
    records: Mapping[str, Any],
    rule: Rescore,
    root: str | None = None,
    device: str = "cpu",
    storage: str | None = None,
    heartbeat_interval: int = HEARTBEAT_INTERVAL,
    on_stage: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """The re-scoring stage of a finished sweep: its ``rule.top`` best counted trials
    (:func:`ranked_trials`), each trained again on ``rule.seeds`` with the test labels
    hidden; the one with the best mean validation accuracy there is selected (ties: the
    better-ranked one). Store the result as ``records["rescore"]``; the final evaluation then
    trains that trial (:func:`selected_trial`).

    With a ``storage`` (the tuning study's), each (trial, seed) run is a trial of the study
    ``"<study>:rescore"``, shared by several workers and resumed after a kill as the final
    evaluation's seeds are (:func:`final_evaluation`), from the storage or, where it was
    lost, from the runs ``records`` kept (``on_stage``, :func:`stage_record`).

    Returns:
        ``{"rule": rule.to_dict(), "candidates": [...], "trial": number, "ran_on": [...]}``:
        per candidate its trial number, tuning score, per-seed validation accuracies and
        their mean, in the sweep's order; the hardware kinds its runs trained on
        (:func:`hardware_kinds`: more than one where a stopped re-scoring resumed on
        another machine).

    A sweep with fewer finished counted trials than ``rule.top`` re-scores them all.

    Raises:
        ValueError: when no counted trial finished, or the rule's seeds overlap the tuning
            seeds.
    """
    config = StudyConfig.from_dict(records["config"])
    reused = sorted(set(rule.seeds) & set(config.budget.seeds))
    if reused:
        raise ValueError(
            f"Re-scoring seeds {reused} were used in tuning (budget seeds "
            f"{list(config.budget.seeds)}): re-scoring needs fresh seeds"
        )
    candidates = ranked_trials(records)[: rule.top]
    if not candidates:
        raise ValueError(f"Study {records['study']!r} has no finished counted trial to re-score")
    jobs = [(t, seed) for t in candidates for seed in rule.seeds]
    graphs = _Graphs(config, root)

    def run(indices: Sequence[int]) -> list[TrainResult]:
        out = []
        for i in indices:
            trial, seed = jobs[i]
            data = graphs.get(trial["params"].get("features", "raw"), hidden=True)
            out += train_runs(
                data, graphs.num_classes, config.model, trial["params"], [seed],
                config.budget.epochs, config.budget.patience, device, config.fixed,
                config.space_version,
            )  # fmt: skip
        return out

    indices = list(range(len(jobs)))
    here = ran_on(device)
    if storage is None:
        val, kinds = [r.val_acc for r in run(indices)], [here] * len(indices)
    else:
        key = {"rescore_of": records["study"], "config": records["config"],
               "rule": rule.to_dict(), "trials": [t["number"] for t in candidates]}  # fmt: skip
        name = f"{records['study']}:rescore"
        study = _open(storage, name, key, heartbeat_interval)
        val, _, kinds = _shared_final_runs(
            study, indices, run, *_stage(records, name, key, on_stage, keep_test=False), here
        )
    n = len(rule.seeds)
    rows = [
        {
            "trial": t["number"],
            "tuning_score": t["value"],
            "val_acc": val[i * n : (i + 1) * n],
            "val_acc_mean": statistics.fmean(val[i * n : (i + 1) * n]),
        }
        for i, t in enumerate(candidates)
    ]
    best = max(rows, key=lambda r: r["val_acc_mean"])  # the first among equals
    return plain(
        {
            "rule": rule.to_dict(),
            "candidates": rows,
            "trial": best["trial"],
            "ran_on": hardware_kinds(kinds),
        }
    )


def write_records(path: str | Path, records: Mapping[str, Any]) -> None:
    """Write ``records`` (or any plain data) as indented JSON, atomically."""
    text = json.dumps(records, indent=2, sort_keys=True) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))


def read_records(path: str | Path) -> dict[str, Any]:
    """Records written by :func:`write_records`, checked for their format.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if it is not a tuning record.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No tuning record at {path}")
    try:
        records = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a JSON tuning record ({err})") from err
    if not isinstance(records, dict) or records.get("format") != FORMAT:
        raise ValueError(f"{path} is not a tuning record of format {FORMAT!r}")
    return records


def trial_record(records: Mapping[str, Any], number: int) -> dict[str, Any]:
    """Trial ``number`` of ``records``.

    Raises:
        ValueError: when the record has no such trial.
    """
    for t in records["trials"]:
        if t["number"] == number:
            return t
    numbers = [t["number"] for t in records["trials"]]
    raise ValueError(f"The record has no trial {number!r} (it has {numbers})")


# ----------------------------------------------------------------------------- reproduce, final
def ran_on(device: str | torch.device = "cpu") -> str:
    """The hardware that decides a run's last bits: the CPU kind (:func:`~spikegraph.
    experiments.node_classification.cpu_kind`) for a CPU run, the GPU's name otherwise.
    Scores repeat exactly only on the same kind (see :func:`reproduce_trial`).

    Raises:
        DeviceError: for a device training could not run on
            (:func:`~spikegraph.train.device.resolve_device`).
    """
    device = resolve_device(device)
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {cpu_kind()}"


def hardware_kinds(kinds: Sequence[str | None]) -> list[str]:
    """The distinct hardware kinds (:func:`ran_on`) of a stage's runs, sorted; a run kept
    without one (by a record written before runs carried it) counts as ``"unknown"``."""
    return sorted({"unknown" if k is None else k for k in kinds})


def reproduce_trial(
    records: Mapping[str, Any], number: int, root: str | None = None, device: str = "cpu"
) -> list[float]:
    """Train trial ``number`` of ``records`` again and return its per-seed validation scores.

    On the same hardware kind (the trial's ``ran_on``, :func:`ran_on`) and device (CPU by
    default) they equal the recorded ``val_scores`` exactly; compare them with ``==``. On
    another CPU kind, vectorised sums may round differently in their last bits, which can
    move a score by a node (seen once: one seed of a PubMed trial recorded at 0.804 gave
    0.802 on another machine, while a trial the same machine had run repeated exactly).

    Raises:
        ValueError: for a trial that is not in the record or did not finish.
        StudyMismatchError: for a record of another search space than this spikegraph's.
    """
    return probe_trial(records, number, root=root, device=device)


def probe_trial(
    records: Mapping[str, Any],
    number: int,
    seeds: Sequence[int] | None = None,
    changes: Mapping[str, Any] | None = None,
    root: str | None = None,
    device: str = "cpu",
    epochs: int | None = None,
) -> list[float]:
    """Per-seed validation scores of trial ``number`` of ``records`` trained on ``seeds``
    (``None``: the trial's own), with ``changes`` applied: a probe around a tuned trial that
    reads no test label.

    ``changes`` maps option names to values. A parameter of the record's search space
    (``features`` included) replaces the trial's value; any other option is a model option
    held fixed, over the study's own fixed options (as :attr:`StudyConfig.fixed`). The
    budget's epochs and patience apply (``epochs`` overrides the epochs, for smoke runs).
    Training sees the graph with its test labels hidden (:func:`hide_test_labels`), as in
    a trial. With the trial's own seeds and no changes this is :func:`reproduce_trial`.

    Raises:
        ValueError: for a trial that is not in the record or did not finish, bad seeds, or
            a change the model refuses (an unknown option, a value out of range).
        StudyMismatchError: for a record of another search space than this spikegraph's.
    """
    config, params, fixed = changed_trial(records, number, changes)
    trial = trial_record(records, number)
    seeds = check_seeds(list(trial["seeds"] if seeds is None else seeds))
    graphs = _Graphs(config, root)
    runs = train_runs(
        graphs.get(params.get("features", "raw"), hidden=True),
        graphs.num_classes,
        config.model,
        params,
        seeds,
        config.budget.epochs if epochs is None else epochs,
        config.budget.patience,
        device,
        fixed,
        config.space_version,
    )
    return [r.val_acc for r in runs]


def changed_trial(
    records: Mapping[str, Any], number: int, changes: Mapping[str, Any] | None = None
) -> tuple[StudyConfig, dict[str, Any], dict[str, Any]]:
    """The study configuration, parameters and fixed model options of trial ``number`` of
    ``records`` with ``changes`` applied (see :func:`probe_trial`), checked before training.

    Raises:
        ValueError: for a trial that is not in the record or did not finish, or a change
            the model refuses.
        StudyMismatchError: for a record of another search space than this spikegraph's.
    """
    config = StudyConfig.from_dict(records["config"])
    trial = trial_record(records, number)
    if trial["state"] != "COMPLETE":
        raise ValueError(f"Trial {number} did not finish (state {trial['state']}): no score")
    changes = dict(changes or {})
    space = {p.name for p in config.space}
    params = {**trial["params"], **{k: v for k, v in changes.items() if k in space}}
    fixed = {**config.fixed, **{k: v for k, v in changes.items() if k not in space}}
    if params.get("features", "raw") not in FEATURES:
        raise ValueError(f"'features' must be one of {FEATURES}, got {params['features']!r}")
    check_model_option_names(config.model, fixed)
    # values the model refuses fail here
    trial_options(config.model, params, fixed, config.space_version)
    return config, params, fixed


def final_evaluation(
    records: Mapping[str, Any],
    seeds: Sequence[int] = FINAL_SEEDS,
    root: str | None = None,
    device: str = "cpu",
    storage: str | None = None,
    heartbeat_interval: int = HEARTBEAT_INTERVAL,
    on_stage: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train the validation-selected configuration on fresh ``seeds``; read test once each.

    With a ``storage`` (the tuning study's), each seed's run is a trial of the study
    ``"<study>:final"`` there: several workers share the seeds, a killed evaluation resumes
    keeping the seeds that finished, and a dead worker's seed is retried (heartbeats, as for
    tuning trials). The row is the same as without a storage: a seed's run does not depend
    on which worker trains it. ``on_stage(name, stage)`` is called after each seed this
    process trains, with the seeds finished so far: a caller that keeps them in the record
    (``records["stages"][name] = stage``) resumes the evaluation from the record where the
    storage was lost (:func:`stage_record`). That study stores the selected trial, its
    parameters and the seeds; one stored for another selection or other seeds is refused.

    Returns:
        One results-table row: dataset, model, preprocessing (``features``), the selected
        trial and its parameters, per-seed validation and test accuracies, their means and
        standard deviations, the hardware kind each seed trained on (``ran_on``,
        :func:`ran_on`; ``None`` for a seed a record kept without it), the seeds, budget and
        commit.

    Raises:
        ValueError: when no counted trial finished, or ``seeds`` overlap the tuning seeds
            (a final seed must be fresh).
        StudyMismatchError: for a stored final study of another selection or other seeds.
    """
    config = StudyConfig.from_dict(records["config"])
    seeds = check_seeds(seeds)
    reused = sorted(set(seeds) & set(config.budget.seeds))
    if reused:
        raise ValueError(
            f"Final seeds {reused} were used in tuning (budget seeds "
            f"{list(config.budget.seeds)}): the final evaluation needs fresh seeds"
        )
    chosen = records.get("rescore")
    reused = sorted(set(seeds) & set(chosen["rule"]["seeds"] if chosen else ()))
    if reused:
        raise ValueError(
            f"Final seeds {reused} were used in re-scoring: the final evaluation needs fresh seeds"
        )
    best = selected_trial(records)
    if best is None:
        raise ValueError(f"Study {records['study']!r} has no finished counted trial to evaluate")
    graphs = _Graphs(config, root)
    features = best["params"].get("features", "raw")

    def run(some_seeds: Sequence[int]) -> list[TrainResult]:
        return train_runs(
            graphs.get(features, hidden=False),
            graphs.num_classes,
            config.model,
            best["params"],
            some_seeds,
            config.budget.epochs,
            config.budget.patience,
            device,
            config.fixed,
            config.space_version,
        )

    here = ran_on(device)
    if storage is None:
        runs = run(seeds)
        val, test = [r.val_acc for r in runs], [r.test_acc for r in runs]
        kinds = [here] * len(seeds)
    else:
        key = {"final_of": records["study"], "config": records["config"], "trial": best["number"],
               "params": best["params"], "seeds": seeds}  # fmt: skip
        # a re-scored selection's seeds go to a study of their own: a database that holds
        # the final evaluation of the sweep's best trial keeps it, and is not refused
        name = f"{records['study']}:final" + (f":trial-{best['number']}" if chosen else "")
        study = _open(storage, name, key, heartbeat_interval)
        val, test, kinds = _shared_final_runs(
            study, seeds, run, *_stage(records, name, key, on_stage, keep_test=True), here
        )
    return plain(
        {
            "dataset": config.dataset,
            "model": config.model,
            "fixed": dict(config.fixed),
            "split": config.split,
            "features": features,
            "trial": best["number"],
            "tuning_score": best["value"],
            **({"rescore": _rescored(chosen, best["number"])} if chosen else {}),
            "params": best["params"],
            "seeds": seeds,
            "val_acc": val,
            "test_acc": test,
            "val_acc_mean": statistics.fmean(val),
            "test_acc_mean": statistics.fmean(test),
            "test_acc_std": statistics.pstdev(test) if len(test) > 1 else 0.0,
            "ran_on": kinds,
            "budget": config.budget.to_dict(),
            "commit": config.commit,
        }
    )


def kept_final(records: Mapping[str, Any], seeds: Sequence[int]) -> dict[str, Any] | None:
    """The record's final row, marked with its re-scoring (``records["rescore"]``), when the
    re-scoring selected the very trial that row evaluated on ``seeds``: it is the row that
    :func:`final_evaluation` would give (a seed's run does not depend on how its trial was
    selected), so it is kept instead of trained again. ``None`` when the record has no final
    row, no re-scoring, or either names another trial or other seeds."""
    final, chosen = records.get("final"), records.get("rescore")
    if not final or not chosen or final["trial"] != chosen["trial"]:
        return None
    if list(final["seeds"]) != list(seeds) or set(seeds) & set(chosen["rule"]["seeds"]):
        return None
    return {**final, "rescore": _rescored(chosen, final["trial"])}


def row_rule(row: Mapping[str, Any]) -> Rescore | None:
    """The re-scoring rule a final row's trial was selected under (``None``: the sweep's
    best trial, no re-scoring)."""
    note = row.get("rescore")
    return Rescore(top=note["top"], seeds=tuple(note["seeds"])) if note else None


def _rescored(chosen: Mapping[str, Any], number: int) -> dict[str, Any]:
    """A final row's note of its selection's re-scoring: the rule and the selected
    trial's mean validation accuracy on the re-scoring seeds."""
    (row,) = (c for c in chosen["candidates"] if c["trial"] == number)
    return {**chosen["rule"], "val_acc_mean": row["val_acc_mean"]}


def _shared_final_runs(
    study: optuna.Study,
    seeds: list[int],
    run: Any,
    stage: Mapping[str, Any] | None = None,
    on_run: Callable[[list[dict[str, Any]]], None] | None = None,
    here: str | None = None,
) -> tuple[list[float], list[float], list[str | None]]:
    """Validation and test accuracy per seed, each seed's run a trial of the final ``study``
    (user attribute ``seed``), trained here unless another worker has it (finished, or
    running with a live heartbeat). A trial that finds its seed taken is pruned without
    training; only finished trials are read.

    ``stage``: the runs a record kept of this stage (:func:`stage_record`), put back into a
    study that lacks them (a lost database) instead of being trained again. ``on_run`` is
    called with the stage's record after each run this process finishes. ``here``: the
    hardware kind this process trains on (:func:`ran_on`), kept with each run it trains;
    the third list is each seed's (``None`` for a run kept without it)."""
    import optuna
    from optuna.trial import TrialState

    def finished() -> dict[int, Any]:
        out = {}
        for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
            if t.state.name == "COMPLETE":
                out.setdefault(t.user_attrs["seed"], t)
        return out

    def open_seeds() -> list[int]:
        trials = study.get_trials(deepcopy=False)
        taken = {t.user_attrs.get("seed") for t in trials if t.state.name == "RUNNING"}
        done = finished()
        return [s for s in seeds if s not in done and s not in taken]

    def objective(trial: optuna.Trial) -> float:
        seed = trial.user_attrs.get("seed")  # a retried trial keeps its seed
        if seed is None:
            todo = open_seeds()
            if not todo:
                raise optuna.TrialPruned("every open final seed was taken by another worker")
            seed = todo[0]
            trial.set_user_attr("seed", seed)
            if _seed_taken_before(study.get_trials(deepcopy=False), trial.number, seed):
                raise optuna.TrialPruned(f"seed {seed} is run by another worker")
        (result,) = run([seed])
        trial.set_user_attr("ran_on", here)
        trial.set_user_attr("val_acc", result.val_acc)
        trial.set_user_attr("test_acc", result.test_acc)
        return result.val_acc

    held = finished()
    for kept in (stage or {}).get("runs", ()):
        if kept["run"] in seeds and kept["run"] not in held:
            attrs = {"seed": kept["run"], "val_acc": kept["val_acc"],
                     "test_acc": kept.get("test_acc"), "ran_on": kept.get("ran_on")}  # fmt: skip
            study.add_trial(
                optuna.trial.create_trial(
                    state=TrialState.COMPLETE, value=kept["val_acc"], user_attrs=attrs
                )
            )
    while True:
        done = finished()
        if all(s in done for s in seeds):
            break
        waiting = any(t.state.name == "WAITING" for t in study.get_trials(deepcopy=False))
        if open_seeds() or waiting:
            study.optimize(objective, n_trials=1, catch=())
            if on_run is not None:
                on_run(_stage_runs(finished()))
        else:  # every open seed runs in another worker: wait, failing a dead one's
            _fail_stale_and_wait(study)
    done = finished()
    return (
        [done[s].user_attrs["val_acc"] for s in seeds],
        [done[s].user_attrs["test_acc"] for s in seeds],
        [done[s].user_attrs.get("ran_on") for s in seeds],
    )


def _seed_taken_before(trials: Sequence[Any], number: int, seed: int) -> bool:
    """Whether a final-evaluation trial numbered below ``number`` runs or ran ``seed``: two
    workers that picked the same seed at once usually both see it, and only the
    higher-numbered trial yields. If the higher-numbered one checks before the other has
    named its seed, both run it: wasted work, never a wrong row (a seed's runs give the
    same numbers, and the first finished one is read)."""
    return any(
        t.number < number
        and t.state.name in ("RUNNING", "COMPLETE")
        and t.user_attrs.get("seed") == seed
        for t in trials
    )


def _stage_runs(done: Mapping[int, Any]) -> list[dict[str, Any]]:
    """The finished runs of a stage's study, as a record keeps them: the run (a final seed,
    or a re-scoring job's index), its validation accuracy and, where the stage reads it, its
    test accuracy, and the hardware kind it trained on (:func:`ran_on`) where known."""
    out = []
    for key in sorted(done):
        attrs = done[key].user_attrs
        row = {"run": key, "val_acc": attrs["val_acc"]}
        if attrs.get("test_acc") is not None:
            row["test_acc"] = attrs["test_acc"]
        if attrs.get("ran_on") is not None:
            row["ran_on"] = attrs["ran_on"]
        out.append(row)
    return out


def stage_record(
    records: Mapping[str, Any], name: str, key: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The runs ``records`` kept (under ``records["stages"]``) of the stage study ``name``
    (a re-scoring or final evaluation that was stopped), when it was kept under ``key``,
    the configuration of the stage about to run; ``None`` otherwise. Runs kept for another
    selection, rule or seeds are never read back."""
    kept = (records.get("stages") or {}).get(name)
    if kept is None or differences(kept["key"], plain(key)):
        return None
    return kept


def _stage(
    records: Mapping[str, Any],
    name: str,
    key: Mapping[str, Any],
    on_stage: Callable[[str, dict[str, Any]], None] | None,
    keep_test: bool,
) -> tuple[dict[str, Any] | None, Callable[[list[dict[str, Any]]], None] | None]:
    """What :func:`_shared_final_runs` resumes from (:func:`stage_record`), and its
    ``on_run``: ``on_stage(name, {"key", "runs"})`` after each run (test accuracies dropped
    unless ``keep_test``: a re-scoring run's "test" mask is the validation mask)."""
    kept = stage_record(records, name, key)
    if on_stage is None:
        return kept, None

    def on_run(runs: list[dict[str, Any]]) -> None:
        if not keep_test:
            runs = [{k: v for k, v in r.items() if k != "test_acc"} for r in runs]
        on_stage(name, {"key": plain(key), "runs": runs})

    return kept, on_run


def record_space_versions(record: Mapping[str, Any]) -> tuple[int, ...]:
    """The search-space versions a tuning record's study belongs to: its own (version 1 when
    the record names none) and every version that declares the same space for its model
    (:func:`~spikegraph.models.search_space.equivalent_versions`)."""
    config = record["config"]
    return equivalent_versions(config["model"], config.get("space_version", 1))


def common_space_version(records: Sequence[Mapping[str, Any]]) -> int | None:
    """The latest search-space version every record's study belongs to
    (:func:`record_space_versions`), ``None`` when there is none (or no record)."""
    if not records:
        return None
    common = set.intersection(*(set(record_space_versions(r)) for r in records))
    return max(common) if common else None


def check_comparable(
    records: Sequence[Mapping[str, Any]], allow_mixed_commits: bool = False
) -> None:
    """Refuse to put tuning records in one table unless they share one protocol.

    Every record must have the same budget, split, sampler seed and re-scoring rule and,
    for their final evaluations, the same final seeds, and all must belong to one
    search-space version (:func:`common_space_version`: a record of version 2 of a model
    whose space version 3 left unchanged belongs to both); their commits must match unless
    ``allow_mixed_commits`` (then the table names each row's commit).

    Raises:
        StudyMismatchError: naming the records that differ and how.
    """
    if not records:
        return
    first = records[0]
    if common_space_version(records) is None:
        versions_of = "; ".join(
            f"{r['study']!r}: {', '.join(map(str, record_space_versions(r)))}" for r in records
        )
        raise StudyMismatchError(
            "The records searched no one search-space version (the versions each one's "
            f"search space belongs to: {versions_of}); the rows of one table must share one"
        )

    def key(r: Mapping[str, Any]) -> dict[str, Any]:
        c = r["config"]
        out = {"budget": c["budget"], "split": c["split"], "sampler": c["sampler"]}
        rule = (r.get("rescore") or {}).get("rule")
        out["re-scoring"] = json.dumps(rule, sort_keys=True) if rule else "none"
        if "final" in r:
            out["final seeds"] = r["final"]["seeds"]
        if not allow_mixed_commits:
            out["commit"] = c.get("commit")
        return out

    for r in records[1:]:
        diffs = [d for d in differences(key(first), key(r)) if d[1] != "<absent>" != d[2]]
        if diffs:
            what = "; ".join(
                f"{k}: {first['study']!r} has {a!r}, {r['study']!r} has {b!r}" for k, a, b in diffs
            )
            raise StudyMismatchError(
                f"Records {first['study']!r} and {r['study']!r} were tuned under different "
                f"protocols ({what}); the rows of one table must share every one of these"
            )


def summary_markdown(
    rows: Sequence[Mapping[str, Any]], budget: Budget, final_seeds: Sequence[int] = FINAL_SEEDS
) -> str:
    """A markdown table of final-evaluation rows (:func:`final_evaluation`), under the
    protocol sentence; each row names its features' preprocessing, and its commit when the
    rows come from more than one. Rows of a re-scored selection (:func:`rescore`) also show
    the selected trial's re-scoring mean; rows of one table share one rule."""
    commits = sorted({str(r.get("commit")) for r in rows})
    mixed = len(commits) > 1
    rules = {row_rule(r) for r in rows}
    if len(rules) > 1:
        raise ValueError(f"Rows of one table were selected under different re-scorings: {rules}")
    rule = row_rule(rows[0]) if rows else None
    head = (
        "| dataset | model | features | test acc. (%) | val. acc. (%) | tuning score (%) "
        + ("| re-scored val. (%) " if rule else "")
        + "| trial | parameters |"
    )
    lines = [
        protocol_sentence(budget, final_seeds, rule),
        "",
        head + (" commit |" if mixed else ""),
        "|---|---|---|---|---|---|---|---|" + ("---|" if rule else "") + ("---|" if mixed else ""),
    ]
    for r in rows:
        params = ", ".join(
            f"{k}={_fmt(v)}" for k, v in sorted(r["params"].items()) if k != "features"
        )
        rescored = f" {_score(r['rescore']['val_acc_mean'])} |" if rule else ""
        lines.append(
            f"| {r['dataset']} | {model_label(r['model'], r.get('fixed'))} | {r['features']} | "
            f"{100 * r['test_acc_mean']:.1f} ± {100 * r['test_acc_std']:.1f} | "
            f"{100 * r['val_acc_mean']:.1f} | {_score(r.get('tuning_score'))} |{rescored} "
            f"{r['trial']} | {params} |" + (f" {r.get('commit')} |" if mixed else "")
        )
    lines += [
        "",
        "val. acc.: the mean validation accuracy over the fresh seeds (the same runs as the "
        "test accuracy). Tuning score: the selected trial's score in the sweep, "
        + (f"one of the {rule.top} best" if rule else "the best")
        + f" of its {_count(budget.trials, 'trial')}' scores over "
        f"{_count(len(budget.seeds), 'seed')} "
        "each, so biased upward by the selection; the difference to val. acc. shows how much."
        + (
            f" Re-scored val.: its mean validation accuracy over the {len(rule.seeds)} "
            f"re-scoring seeds ({', '.join(map(str, rule.seeds))}), on which it was chosen "
            f"among the sweep's {_count(rule.top, 'best trial')}."
            if rule
            else ""
        ),
    ]
    if not mixed and commits:
        lines += ["", f"spikegraph commit: {commits[0]}"]
    return "\n".join(lines) + "\n"


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def _fmt(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value) and value != int(value):
        return f"{value:.3g}"
    return str(value)


__all__ = [
    "FINAL_SEEDS",
    "FORMAT",
    "RESCORE_SEEDS",
    "Budget",
    "Rescore",
    "SelectedConfig",
    "StudyConfig",
    "StudyMismatchError",
    "TuneStorageError",
    "best_trial",
    "changed_trial",
    "check_comparable",
    "check_fixed_builds",
    "check_record_config",
    "check_seed_option",
    "check_storage_url",
    "code_identity",
    "common_space_version",
    "counted_trials",
    "final_evaluation",
    "fresh_trial_count",
    "hardware_kinds",
    "hide_test_labels",
    "kept_final",
    "kept_seed_runs",
    "model_label",
    "open_study",
    "preprocess_features",
    "probe_trial",
    "protocol_sentence",
    "ran_on",
    "ranked_trials",
    "read_records",
    "record_space_versions",
    "reproduce_trial",
    "rescore",
    "restore_trials",
    "row_rule",
    "run_study",
    "sample_params",
    "selected_config",
    "selected_trial",
    "source_commit",
    "stage_record",
    "study_records",
    "summary_markdown",
    "train_runs",
    "trial_options",
    "trial_record",
    "trial_sampler_seed",
    "write_records",
]
