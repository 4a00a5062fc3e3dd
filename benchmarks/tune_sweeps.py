"""Validation-only Optuna sweeps of every (dataset, model) cell with one budget, and the table.

Each cell is tuned by :func:`spikegraph.experiments.tune.run_study` (the protocol is in that
module's docstring: the same search-space discipline, the same trial budget and seeds for
every model, scores on validation accuracy only, no test label read), then its selected
configuration is trained on 10 fresh seeds and its test accuracy read once per seed
(:func:`~spikegraph.experiments.tune.final_evaluation`). Every cell's trial records go to
``sweeps/<dataset>-<model>.json``; the table of all the cells there goes to ``tuned.md``,
under the protocol sentence, with each row's features preprocessing, and its comparisons
(each family's validation-best spiking cell against its ordinary model, each ablation
against its model, with Welch's t-test over the final seeds) also go to ``tuned.json``, as
data for the documentation to quote.

    python benchmarks/tune_sweeps.py --trials 50 --update-results          # every cell
    python benchmarks/tune_sweeps.py --trials 50 --update-results --datasets Cora --models gcn
    python benchmarks/tune_sweeps.py --quick                                # smoke run

Resumable: a cell whose record holds its final evaluation under the same configuration is
skipped; an unfinished cell resumes its study from the Optuna storage (``--storage``, by
default an SQLite file in the scratch folder ``results/local/``, never committed), keeping
its finished trials and the finished seeds of its final evaluation. The record of an
unfinished cell is written after every trial and every seed of a running trial (a trial
retried there trains only its unfinished seeds), so a sweep also resumes where that database
is gone (another machine, from the committed record, run at the record's commit): its
trials come back under their numbers and the sweep goes on as it would have. The re-scoring
and final evaluation keep their finished runs in the record too (``stages``, written after
every run and dropped once the final row is written), so they resume from it as well.
Several copies of this command (or machines sharing a database URL) run one sweep together:
they share each cell's trials, then the seeds of its final evaluation. A record of another
budget, split, search space or commit is never mixed in silently: the run stops, naming it
(``--allow-mixed-commits`` puts records of several commits in one table, each row naming its
commit, and lets a cell whose trials have all run finish its re-scoring and final evaluation
at a later commit, which the provenance bullet of the cell in the table then names). A record of
an earlier search-space version is this cell's when that version declares the same space for
the model (version 3 changed only ``gcn``'s and ``gat``'s): it is kept, and the table names
the version all its records belong to. A finished record of an earlier version whose space
for the model has changed since (a baseline tuned before version 3 gave it input dropout) is
kept beside the table: in ``sweeps/v<N>/``, shown in a section of its own under its own
protocol sentence, outside the family comparison.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    RESULTS,
    SCRATCH,
    add_output_options,
    atomic_write_text,
    check_names,
    command_line,
    machine_md,
    output_dir,
    provenance,
)

from spikegraph.datasets import DATASETS
from spikegraph.experiments import tune
from spikegraph.models import MODELS
from spikegraph.models.search_space import SEARCH_SPACES, SPACE_VERSION, equivalent_versions

STEM = "tuned"
SWEEPS = "sweeps"
#: Ablation cells: name -> (registered model, model options held fixed in every trial). The
#: STFN ablation of the paper-faithful models, where STFN acts (every layer spiking, so it
#: pools over time steps that differ from the second layer on): the same search space
#: without the normalisation (STFN's rho is then not drawn).
VARIANTS: dict[str, tuple[str, dict]] = {
    "gcsnn-no-stfn": ("gcsnn", {"norm": "none"}),
    "gasnn-no-stfn": ("gasnn", {"norm": "none"}),
}
#: The cells of the table: the Planetoid datasets, every model with a search space, and the
#: ablation variants.
DEFAULT_DATASETS = ["Cora", "CiteSeer", "PubMed"]
DEFAULT_MODELS = [m for m in MODELS if m in SEARCH_SPACES] + list(VARIANTS)
#: How many of each sweep's best trials the selection re-scores on other seeds.
RESCORE_TOP = 3
#: The families the table sets side by side: an ordinary model, and the spiking cells
#: (models or ablation variants) built on its layer.
FAMILIES: dict[str, tuple[str, ...]] = {
    "gcn": ("sgcn", "stfn-sgcn", "gcsnn", "gcsnn-no-stfn"),
    "gat": ("sgat", "stfn-sgat", "lif-sgat", "gasnn", "gasnn-no-stfn"),
}
#: Sub-folders of ``sweeps/`` that keep finished cells of an earlier search-space version
#: whose space for their model differs from the table's (``sweeps/v2/Cora-gcn.json``: a
#: baseline tuned before version 3 gave it input dropout). ``tuned.md`` shows each folder
#: in a section of its own, under its own protocol sentence, outside the family comparison.
EARLIER = re.compile(r"v([0-9]+)")
#: Validation means closer than this are a tie (they move in steps of one node over the
#: seeds, 1/5000 on a Planetoid split with 10 seeds; this only absorbs float rounding).
TIE = 1e-9


def cell_path(folder: Path, dataset: str, model: str) -> Path:
    """Where the record of one cell (``model``: a model or a variant name) goes."""
    return folder / SWEEPS / f"{dataset}-{model}.json"


def planned_config(dataset: str, model: str, args: argparse.Namespace) -> tune.StudyConfig:
    """The study configuration of one cell: the same budget for every cell."""
    budget = tune.Budget(
        trials=args.trials, seeds=tuple(args.seeds), epochs=args.epochs, patience=args.patience
    )
    base, fixed = VARIANTS.get(model, (model, {}))
    return tune.StudyConfig(
        dataset, base, budget, split=args.split, sampler_seed=args.sampler_seed,
        commit=args.commit, fixed=fixed,
    )  # fmt: skip


def existing_record(path: Path, config: tune.StudyConfig, args: argparse.Namespace):
    """``(config, record)``: the record of a cell at ``path`` (``None``: absent), finished
    or not, and the configuration the cell goes on under. A record of another configuration
    is an error naming the difference, unless it differs only by commit and
    ``--allow-mixed-commits`` is given (an unfinished one never resumes under another
    commit: :func:`~spikegraph.experiments.tune.restore_trials` refuses it), or only by a
    search-space version that declares the same space for the model
    (:func:`~spikegraph.models.search_space.equivalent_versions`): the cell then goes on
    under the record's version, and its record stays as it is."""
    if not path.exists():
        return config, None
    records = tune.read_records(path)
    have = records["config"]
    version = have.get("space_version", 1)
    if version in equivalent_versions(config.model, config.space_version):
        config = dataclasses.replace(config, space_version=version)
    want = config.to_dict()
    if args.allow_mixed_commits:
        want = {**want, "commit": have.get("commit")}
    if want != have:
        diff = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
        keep = (
            f"; a finished record of an earlier version can stay beside the table, in "
            f"{path.parent / f'v{version}'}/"
            if "space_version" in diff and version < config.space_version
            else ""
        )
        raise tune.StudyMismatchError(
            f"{path} was tuned with another configuration (differs in {', '.join(diff)}): "
            "finish the sweep under its own configuration, remove the record, or write "
            f"elsewhere (--out DIR){keep}"
        )
    return config, records


def finished_trials(records) -> int:
    """How many of a record's trials have ended (finished, diverged or failed)."""
    return sum(t["state"] in tune.ENDED_STATES for t in records["trials"])


def tuning_done(records) -> bool:
    """Whether every trial of a record's budget has ended, with no trial numbered below the
    last counted one still running: its selection is what the study's would be, so its
    re-scoring and final evaluation need only the record."""
    budget = tune.Budget.from_dict(records["config"]["budget"])
    counted = records["counted"]
    if len(counted) < budget.trials:
        return False
    return not any(t["state"] == "RUNNING" and t["number"] < counted[-1] for t in records["trials"])


def keep_stage(path: Path, records: dict, command: str):
    """``on_stage`` of a cell's re-scoring and final evaluation: keep the runs finished so
    far in ``records["stages"]`` and write the record, so that a stage stopped with its
    database lost resumes from the record (:func:`~spikegraph.experiments.tune.stage_record`)
    instead of training its finished runs again. The finished record drops them: its
    ``rescore`` and ``final`` entries hold the same numbers."""

    def keep(name: str, stage: dict) -> None:
        records.setdefault("stages", {})[name] = stage
        tune.write_records(path, {**records, "provenance": provenance(command)})

    return keep


def keep_unfinished(path: Path, command: str):
    """``on_trial`` of a cell: write its unfinished record after each trial (with the
    provenance of that moment), so that a sweep whose database is lost resumes from the
    record. A worker never replaces a record that is finished, or that holds more ended
    trials than its own (another worker's, written later)."""

    def keep(records) -> None:
        if path.exists():
            on_disk = tune.read_records(path)
            if "final" in on_disk or finished_trials(on_disk) > finished_trials(records):
                return
        tune.write_records(path, {**records, "provenance": provenance(command)})

    return keep


def selected_as_asked(record, rule: tune.Rescore | None, final_seeds) -> bool:
    """Whether a cell's record holds a final evaluation of the trial that ``rule`` selects
    (``None``: the sweep's best), on ``final_seeds``: then the cell has nothing left to run."""
    final, chosen = record.get("final"), record.get("rescore")
    if not final or list(final["seeds"]) != list(final_seeds):
        return False
    if rule is None:
        return chosen is None
    return (
        chosen is not None
        and chosen["rule"] == rule.to_dict()
        and final["trial"] == chosen["trial"]
        and tune.row_rule(final) == rule
    )


def read_folder(folder: Path, rule: tune.Rescore | None):
    """The cell records in ``folder``'s ``sweeps/``: the finished ones selected under
    ``rule``, a line per unfinished one (how far it got), the names of the unfinished ones,
    and the finished ones selected under another rule."""
    records, unfinished, started, other = [], [], set(), []
    for path in sorted((folder / SWEEPS).glob("*.json")):
        rec = tune.read_records(path)
        if "final" in rec:
            asked = selected_as_asked(rec, rule, rec["final"]["seeds"])
            (records if asked else other).append(rec)
        else:
            budget = tune.Budget.from_dict(rec["config"]["budget"])
            counted = len(tune.counted_trials(rec["trials"], budget))
            unfinished.append(
                f"{path.stem} ({counted} of {budget.trials} trials counted{stage_progress(rec)})"
            )
            started.add(path.stem)
    return records, unfinished, started, other


def not_recorded(records: list[dict], started: set[str]) -> list[str]:
    """The cells of the full table (every default dataset and model) with no record at all,
    finished (``records``) or not (``started``, listed as in progress instead)."""
    recorded = started | {"-".join(cell_name(r)) for r in records}
    return [
        f"{d}-{m}" for d in DEFAULT_DATASETS for m in DEFAULT_MODELS if f"{d}-{m}" not in recorded
    ]


def summary(folder: Path, args: argparse.Namespace, rule: tune.Rescore | None = None) -> dict:
    """``tuned.json``: the comparisons of ``tuned.md`` as data, for the documentation to
    quote (:func:`family_rows`, :func:`ablation_rows`), with the record files and commits of
    the cells they read (the finished cells selected under ``rule``) and the cells not
    finished yet, so that a summary of some cells is never read as one of all."""
    records, _, started, other = read_folder(folder, rule)
    tune.check_comparable(records, allow_mixed_commits=args.allow_mixed_commits)
    return {
        "format": "spikegraph-tuned/1",
        "space_version": tune.common_space_version(records),
        "cells": {
            f"{SWEEPS}/{'-'.join(cell_name(r))}.json": r["config"].get("commit") for r in records
        },
        "not_finished": sorted(started | set(not_recorded(records + other, started))),
        "families": family_rows(records),
        "ablations": ablation_rows(records),
    }


def table(folder: Path, args: argparse.Namespace, rule: tune.Rescore | None = None) -> str:
    """``tuned.md`` from every finished cell record under ``folder`` selected under ``rule``,
    checked comparable. Finished records selected under another rule (a sweep's best, before
    re-scoring was asked) follow in a table of their own, under their own protocol sentence:
    a row of one rule never stands in a table of another."""
    records, unfinished, started, other = read_folder(folder, rule)
    tune.check_comparable(records, allow_mixed_commits=args.allow_mixed_commits)
    runs, body, listing = rows_section(records, "No cell has finished under this rule.")
    missing = not_recorded(records + other, started)
    text = (
        "# Tuned results: one validation-only protocol for every model\n\n"
        + "Made by (per command, machine and commit, each cell with the end of its final "
        "evaluation and of its re-scoring):\n\n"
        + runs
        + "\n\n"
        + body
        + family_section(records)
        + ablation_section(records)
        + f"\nTrial records (every trial's parameters and per-seed validation scores): {listing}."
        + (
            f"\nNot tuned yet (cells of the full table without a finished record): "
            f"{', '.join(missing)}."
            if missing
            else ""
        )
        + (f" In progress: {', '.join(unfinished)}." if unfinished else "")
        + "\nReproduce one trial: `spikegraph tune --reproduce N --records <record>`.\n"
    )
    version = tune.common_space_version(records) or SPACE_VERSION
    for sub in earlier_folders(folder):
        text += earlier_section(sub, version, args)
    if other:
        tune.check_comparable(other, allow_mixed_commits=args.allow_mixed_commits)
        runs, body, listing = rows_section(other, "")
        text += (
            "\n## Cells selected under another rule\n\n"
            "Their selection is not the one of the table above (run the command again to "
            "select them under it), so they are shown apart, under their own protocol. "
            "Made by:\n\n" + runs + "\n\n" + body + f"\nTrial records: {listing}.\n"
        )
    return text


def stage_progress(record) -> str:
    """What an unfinished record's running trials (their finished seeds, ``seed_runs``) and
    stopped stages (``stages``, written after each run) hold, to follow its count of
    trials: ``"; trial 3 at 2 of 3 seeds"`` or ``"; re-scoring 15 of 15 runs; final
    evaluation of trial 1, 3 of 10 seeds"`` (empty when it holds none)."""
    parts = [
        f"trial {t['number']} at {len(t['seed_runs']['runs'])} of {len(t['seeds'])} seeds"
        for t in record.get("trials", ())
        if t["state"] == "RUNNING" and t.get("seed_runs")
    ]
    stages = (record.get("stages") or {}).values()
    for stage in sorted(stages, key=lambda stage: "final_of" in stage["key"]):
        key, done = stage["key"], len(stage["runs"])
        if "rescore_of" in key:
            runs = len(key["trials"]) * len(key["rule"]["seeds"])
            parts.append(f"re-scoring {done} of {runs} runs")
        else:
            parts.append(f"final evaluation of trial {key['trial']}, {done} of "
                         f"{len(key['seeds'])} seeds")  # fmt: skip
    return "".join(f"; {part}" for part in parts)


def earlier_folders(folder: Path) -> list[Path]:
    """The sub-folders of ``folder/sweeps`` named for an earlier search-space version
    (:data:`EARLIER`), oldest version first."""
    subs = [p for p in (folder / SWEEPS).glob("v*") if p.is_dir() and EARLIER.fullmatch(p.name)]
    return sorted(subs, key=lambda p: int(p.name[1:]))


def earlier_section(sub: Path, version: int, args: argparse.Namespace) -> str:
    """The section of ``tuned.md`` for the cells kept in ``sub`` (``sweeps/v<N>/``), tuned
    under version N, beside a table of search-space version ``version``.

    Raises:
        ValueError: naming a record there that is unfinished, names another version, or
            belongs in the table itself (its model's space is the same under ``version``).
    """
    n = int(EARLIER.fullmatch(sub.name).group(1))
    records = []
    for path in sorted(sub.glob("*.json")):
        rec = tune.read_records(path)
        versions = tune.record_space_versions(rec)
        if "final" not in rec:
            raise ValueError(f"{path} has no final evaluation: {sub} keeps finished cells only")
        if n not in versions:
            raise ValueError(f"{path} was tuned under search-space version "
                             f"{rec['config'].get('space_version', 1)}, not {n}")  # fmt: skip
        if version in versions:
            raise ValueError(
                f"{path} searched the same space as version {version}, the table's: it "
                f"belongs in the table ({sub.parent}), not beside it"
            )
        records.append(rec)
    if not records:
        return ""
    tune.check_comparable(records, allow_mixed_commits=args.allow_mixed_commits)
    runs, body, listing = rows_section(records, "", f"{sub.parent.name}/{sub.name}")
    return (
        f"\n## Cells tuned under search-space version {n}\n\n"
        f"Their models search another space under version {n} than under version {version}, "
        "the table's (`spikegraph.models.search_space` gives both, and why they changed), so "
        "they stand apart, under their own protocol sentence, and outside the family "
        "comparison. Made by:\n\n" + runs + "\n\n" + body + f"\nTrial records: {listing}.\n"
    )


def best_by_validation(finals: dict[str, dict]) -> list[str]:
    """The cells of ``finals`` (name -> final row) with the highest validation mean over
    their final seeds: one name, or every name tied with it (within :data:`TIE`)."""
    top = max(f["val_acc_mean"] for f in finals.values())
    return [name for name, f in finals.items() if top - f["val_acc_mean"] <= TIE]


def welch_p(a: list[float], b: list[float]) -> float | None:
    """Welch's two-sided t-test of two cells' per-seed test accuracies
    (``scipy.stats.ttest_ind(..., equal_var=False)``): the seeds of two cells train
    different models, so the test is unpaired and does not assume equal variances. ``None``
    where it is undefined: both cells gave the same accuracy on every seed (no spread)."""
    from scipy import stats

    constant = [statistics.pvariance(x) == 0 for x in (a, b)]
    if all(constant):
        return None
    with warnings.catch_warnings():
        if any(constant):  # scipy warns of a constant sample; the other's spread suffices
            warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
        return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def p_text(p: float | None) -> str:
    """A p-value as ``tuned.md`` prints it (``n/a`` where the test is undefined)."""
    return "n/a" if p is None else f"{p:.2g}"


def family_rows(records: list[dict]) -> list[dict]:
    """The best spiking cell of each family (:data:`FAMILIES`), chosen by validation only,
    against its ordinary model, per dataset, as data: one row per best cell (several where
    cells tie on validation), with the family's members not finished yet. A family without
    its ordinary model or any finished spiking cell on a dataset has no row."""
    cells = {cell_name(r): r["final"] for r in records}
    rows = []
    for dataset in DATASETS:
        for ordinary, members in FAMILIES.items():
            ref = cells.get((dataset, ordinary))
            finals = {m: cells[dataset, m] for m in members if (dataset, m) in cells}
            if ref is None or not finals:
                continue
            tied = best_by_validation(finals)
            for name in tied:
                f = finals[name]
                rows.append({
                    "dataset": dataset, "ordinary": ordinary,
                    "ordinary_test_acc_mean": ref["test_acc_mean"], "cell": name,
                    "tied": len(tied) > 1, "val_acc_mean": f["val_acc_mean"],
                    "test_acc_mean": f["test_acc_mean"],
                    "gap": ref["test_acc_mean"] - f["test_acc_mean"],
                    "p_welch": welch_p(ref["test_acc"], f["test_acc"]),
                    "not_finished": [m for m in members if m not in finals],
                })  # fmt: skip
    return rows


def family_section(records: list[dict]) -> str:
    """:func:`family_rows` as a section of ``tuned.md`` (empty when there is no row)."""
    lines = []
    for row in family_rows(records):
        note = [" (tied on validation)"] if row["tied"] else []
        if row["not_finished"]:
            note.append(f" (not finished: {', '.join(row['not_finished'])})")
        lines.append(
            f"| {row['dataset']} | {row['ordinary']} | "
            f"{100 * row['ordinary_test_acc_mean']:.2f} | {row['cell']}{''.join(note)} | "
            f"{100 * row['val_acc_mean']:.2f} | {100 * row['test_acc_mean']:.2f} | "
            f"{100 * row['gap']:.2f} | {p_text(row['p_welch'])} |"
        )
    if not lines:
        return ""
    return (
        "\n## Spiking against ordinary, chosen by validation\n\n"
        "In each family (spiking cells built on one ordinary model's layer: "
        + "; ".join(f"{o}: {', '.join(m)}" for o, m in FAMILIES.items())
        + "), the spiking cell with the highest val. acc. above (the validation mean over "
        "the final seeds; no test label is read in choosing it), against the ordinary "
        "model. Gap: the ordinary model's test mean minus the spiking cell's, in points; p: "
        "Welch's two-sided t-test of their per-seed test accuracies over the final seeds. "
        "Cells tied on validation are all listed.\n\n"
        "| dataset | ordinary | its test acc. (%) | best spiking cell | val. acc. (%) | "
        "test acc. (%) | gap | p |\n|---|---|---|---|---|---|---|---|\n" + "\n".join(lines) + "\n"
    )


def ablation_rows(records: list[dict]) -> list[dict]:
    """Each ablation cell (:data:`VARIANTS`) against its model on every dataset where both
    finished, as data: the difference of their test and validation means over the final
    seeds (the model's minus the variant's), and the p-value of :func:`welch_p` on their
    per-seed test accuracies."""
    cells = {cell_name(r): r["final"] for r in records}
    rows = []
    for dataset in DATASETS:
        for variant, (model, fixed) in VARIANTS.items():
            on, off = cells.get((dataset, model)), cells.get((dataset, variant))
            if on is None or off is None:
                continue
            rows.append({
                "dataset": dataset, "model": model, "variant": variant, "fixed": fixed,
                "test_acc_mean": on["test_acc_mean"], "test_acc_std": on["test_acc_std"],
                "variant_test_acc_mean": off["test_acc_mean"],
                "variant_test_acc_std": off["test_acc_std"],
                "difference": on["test_acc_mean"] - off["test_acc_mean"],
                "p_welch": welch_p(on["test_acc"], off["test_acc"]),
                "val_difference": on["val_acc_mean"] - off["val_acc_mean"],
            })  # fmt: skip
    return rows


def ablation_section(records: list[dict]) -> str:
    """:func:`ablation_rows` as a section of ``tuned.md`` (empty when there is no row)."""
    lines = [
        f"| {r['dataset']} | {r['model']} | {r['variant']} "
        f"({', '.join(f'{k}={v}' for k, v in r['fixed'].items())}) | "
        f"{100 * r['test_acc_mean']:.2f} ± {100 * r['test_acc_std']:.2f} | "
        f"{100 * r['variant_test_acc_mean']:.2f} ± {100 * r['variant_test_acc_std']:.2f} | "
        f"{100 * r['difference']:.2f} | {p_text(r['p_welch'])} | "
        f"{100 * r['val_difference']:.2f} |"
        for r in ablation_rows(records)
    ]
    if not lines:
        return ""
    return (
        "\n## Ablations, in the same protocol\n\n"
        "Each ablation cell (its model with the options shown held fixed in every trial, "
        "tuned and evaluated as every cell is) against its model. Difference: the model's "
        "test mean minus the ablation's, in points; p: Welch's two-sided t-test of their "
        "per-seed test accuracies over the final seeds (`scipy.stats.ttest_ind`, "
        "`equal_var=False`), so a large p is a difference the seeds do not separate; "
        "val. difference: the same difference of the validation means, what selection "
        "sees.\n\n"
        "| dataset | model | ablation | test acc. (%) | ablation's test acc. (%) | "
        "difference | p | val. difference |\n|---|---|---|---|---|---|---|---|\n"
        + "\n".join(lines)
        + "\n"
    )


def cell_name(r: dict) -> tuple[str, str]:
    """A finished record's cell: (dataset, model or variant name)."""
    final = r["final"]
    fixed = final.get("fixed") or {}
    name = next((v for v, (m, f) in VARIANTS.items() if (m, f) == (final["model"], fixed)),
                final["model"])  # fmt: skip
    return final["dataset"], name


def at_commit(prov: dict, record: dict) -> str:
    """``", at commit X"`` where a stage of ``record`` (its final evaluation or re-scoring,
    whose provenance is ``prov``) ran at another commit than its trials; empty otherwise."""
    ran = prov.get("git_commit")
    return f", at commit {ran}" if ran and ran != record["config"].get("commit") else ""


def rows_section(records: list[dict], empty: str, where: str = SWEEPS) -> tuple[str, str, str]:
    """The provenance (:func:`made_by`), the table (under its protocol sentence) and the list
    of record files of finished ``records`` (in the folder ``where``), in the table's order: per
    dataset, the ordinary models first (``empty``: the table of none)."""
    names = [*FAMILIES, *(m for m in MODELS if m not in FAMILIES), *VARIANTS]
    order = {(d, m): i for i, (d, m) in enumerate((d, m) for d in DATASETS for m in names)}
    records = sorted(records, key=lambda r: order.get(cell_name(r), 1 << 30))
    body = empty + "\n"
    if records:
        budget = tune.Budget.from_dict(records[0]["config"]["budget"])
        body = tune.summary_markdown(
            [r["final"] for r in records], budget, records[0]["final"]["seeds"]
        )
        version = tune.common_space_version(records)  # one per table (checked)
        older: dict[int, int] = {}  # version -> how many records name it
        for r in records:
            named = r["config"].get("space_version", 1)
            if named != version:
                older[named] = older.get(named, 0) + 1
        body += (
            f"\nSearch spaces: version {version} "
            f"(`spikegraph.models.search_space.SPACE_VERSIONS[{version}]`; each record "
            "stores the ranges it searched)"
            + "".join(
                f"; {count} of the {len(records)} records name version {named}, which "
                "declares the same space for their model"
                for named, count in sorted(older.items())
            )
            + ".\n"
        )
    listing = ", ".join(f"`{where}/{'-'.join(cell_name(r))}.json`" for r in records)
    return made_by(records), body, listing


def made_by(records: list[dict]) -> str:
    """The provenance of ``records``, grouped: one bullet per command, machine and commit
    that made a final evaluation (with the command that re-scored, where one did), and
    under it each cell it made with the end of its final evaluation and of its re-scoring.
    The same text once per group, instead of once per cell."""
    groups: dict[str, list[str]] = {}
    for r in records:
        prov = r.get("provenance") or {}
        again = (r.get("rescore") or {}).get("provenance")
        machine = machine_md(prov["machine"]) if prov.get("machine") else "machine not recorded"
        head = f"`{prov.get('command')}`, {machine}{at_commit(prov, r)}"
        if again:
            head += f"; re-scored by `{again['command']}`{at_commit(again, r)}"
        groups.setdefault(head, []).append(
            f"  - {'-'.join(cell_name(r))}: {prov.get('date')}"
            + (f" (re-scored {again['date']})" if again else "")
        )
    return "\n".join(f"- {head}:\n" + "\n".join(cells) for head, cells in groups.items())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=DEFAULT_DATASETS)
    p.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    p.add_argument("--trials", type=int, default=None, help="trials per cell (required)")
    budget = tune.Budget(trials=1)
    p.add_argument("--seeds", type=int, nargs="+", default=list(budget.seeds))
    p.add_argument("--epochs", type=int, default=budget.epochs)
    p.add_argument("--patience", type=int, default=budget.patience)
    p.add_argument("--final-seeds", type=int, nargs="+", default=list(tune.FINAL_SEEDS))
    p.add_argument("--rescore-top", type=int, default=RESCORE_TOP,
                   help="re-score the K best trials of each sweep on --rescore-seeds and "
                   "select the best of them there (0: select the sweep's best)")  # fmt: skip
    p.add_argument("--rescore-seeds", type=int, nargs="+", default=list(tune.RESCORE_SEEDS))
    p.add_argument("--sampler-seed", type=int, default=0)
    p.add_argument("--split", default="public", choices=["public", "full"])
    p.add_argument("--storage", default=None, help="Optuna database URL (default: SQLite file "
                   "tune_sweeps.db in the scratch folder, or in --out DIR)")  # fmt: skip
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--allow-mixed-commits", action="store_true")
    p.add_argument("--quick", action="store_true", help="Cora, gcn, 2 trials of 1 seed, 2 epochs")
    add_output_options(p)
    args = p.parse_args(argv)
    if args.quick:
        args.datasets, args.models, args.trials = ["Cora"], ["gcn"], 2
        args.seeds, args.epochs, args.final_seeds = [0], 2, [100, 101]
        args.rescore_top, args.rescore_seeds = 2, [10]
    if args.trials is None:
        p.error("--trials N is required: the budget of every cell")
    rule = None
    if args.rescore_top:
        try:
            rule = tune.Rescore(args.rescore_top, tuple(args.rescore_seeds))
        except ValueError as err:
            p.error(f"--rescore-top/--rescore-seeds: {err}")
        reused = sorted(set(rule.seeds) & (set(args.seeds) | set(args.final_seeds)))
        if reused:
            p.error(f"--rescore-seeds {reused} are also tuning or final seeds: give fresh ones")
    args.datasets = check_names(p, "--datasets", args.datasets, DATASETS)
    args.models = check_names(p, "--models", args.models, DEFAULT_MODELS)
    out = output_dir(p, args)
    # A --quick run that keeps nothing works in a temporary folder; the committed results
    # never hold the study database (binary, machine-local): it goes to the scratch folder.
    folder = out if out is not None else Path(tempfile.mkdtemp(prefix="tune_sweeps-"))
    storage = args.storage
    if storage is None:
        db = (SCRATCH if folder == RESULTS else folder) / "tune_sweeps.db"
        db.parent.mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{db}"
    args.commit = tune.source_commit()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per cell instead
    try:
        tune.check_storage_url(storage)
        plans = []
        for dataset in args.datasets:
            for model in args.models:
                config = planned_config(dataset, model, args)
                path = cell_path(folder, dataset, model)
                config, record = existing_record(path, config, args)
                plans.append((f"{dataset}-{model}", path, config, record))
    except ValueError as err:  # bad settings or a record of another protocol: nothing runs
        p.error(str(err))
    command = command_line("tune_sweeps.py", sys.argv[1:] if argv is None else argv)
    for name, path, config, record in plans:
        if record is not None and selected_as_asked(record, rule, args.final_seeds):
            print(f"{name}: finished earlier, skipped", flush=True)
            continue
        start = time.perf_counter()
        kept = f"the finished trials of {name} are kept in {path} and {storage}"
        if record is not None and ("final" in record or tuning_done(record)):
            # every trial ran: what is left is the selection (a re-scoring, another rule) and
            # the final evaluation; with --allow-mixed-commits they may run at a later commit
            # than the trials' (the cell's provenance bullet then names it)
            records = dict(record)
        else:
            try:
                records = tune.run_study(
                    config, storage, name, root=args.root, device=args.device,
                    resume_from=record, on_trial=keep_unfinished(path, command),
                    on_seed=keep_unfinished(path, command),
                )  # fmt: skip
            except tune.StudyMismatchError as err:
                p.error(str(err))
            except KeyboardInterrupt as err:
                raise KeyboardInterrupt(f"{kept}; run the same command again to resume") from err
        if records["best"] is None:
            print(f"{name}: no trial finished; no final evaluation", flush=True)
            tune.write_records(path, records)
            continue
        records.pop("rescore", None)
        # the runs a stopped stage kept in the record (run_study's records do not carry them)
        records["stages"] = dict((record or {}).get("stages") or {})
        # (a finished record re-scored under another rule keeps its row until the new one
        # is written, and its stages are not kept: a stopped one starts again)
        on_stage = keep_stage(path, records, command) if "final" not in records else None
        also = f" and {path}" if on_stage is not None else ""
        if rule is not None:
            try:
                records["rescore"] = tune.rescore(
                    records, rule, root=args.root, device=args.device, storage=storage,
                    on_stage=on_stage,
                )  # fmt: skip
            except ValueError as err:  # too few finished trials, or seeds used in tuning
                p.error(f"{name}: {err}")
            except KeyboardInterrupt as err:
                raise KeyboardInterrupt(
                    f"{kept}, the re-scoring's finished runs in {storage}{also}; run the same "
                    "command again to resume"
                ) from err
            records["rescore"]["provenance"] = provenance(command)
        final = tune.kept_final(records, args.final_seeds)
        if final is not None:  # the selection did not change: its final row stands
            records["final"] = final
        else:
            try:
                records["final"] = tune.final_evaluation(
                    records, args.final_seeds, root=args.root, device=args.device,
                    storage=storage, on_stage=on_stage,
                )  # fmt: skip
            except KeyboardInterrupt as err:
                raise KeyboardInterrupt(
                    f"{kept}, the final evaluation's finished seeds in {storage}{also}; run the "
                    "same command again to resume"
                ) from err
            records["provenance"] = provenance(command)
        del records["stages"]
        tune.write_records(path, records)
        row, best = records["final"], tune.selected_trial(records)
        scores = f"tuning score {100 * best['value']:.2f}"
        if "rescore" in records:
            scores += f", re-scoring validation {100 * row['rescore']['val_acc_mean']:.2f}"
        print(
            f"{name}: selected trial {best['number']} ({scores}), test "
            f"{100 * row['test_acc_mean']:.2f} +- {100 * row['test_acc_std']:.2f} over "
            f"{len(row['seeds'])} seeds, features {row['features']} "
            f"({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
    try:
        text = table(folder, args, rule)
    except ValueError as err:
        p.error(str(err))
    if out is None:
        print(text)
        return 0
    data = json.dumps(summary(folder, args, rule), indent=1)  # both files, or neither
    atomic_write_text(folder / f"{STEM}.md", text)
    atomic_write_text(folder / f"{STEM}.json", data + "\n")
    print(f"wrote {folder / STEM}.md, {STEM}.json and {folder / SWEEPS}/", flush=True)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt as stop:  # Ctrl-C: one line that says what was kept, exit 130
        print(f"tune_sweeps.py: interrupted; {stop}", file=sys.stderr)
        raise SystemExit(130) from None
