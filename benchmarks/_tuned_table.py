"""The tuned results table (``tuned.md``) and its comparisons as data (``tuned.json``), built
from the cell records of ``benchmarks/tune_sweeps.py`` without training anything.

The cells of the study are declared here (:data:`DEFAULT_DATASETS`, :data:`DEFAULT_MODELS`,
the ablation :data:`VARIANTS` and the :data:`FAMILIES` the table sets side by side), with
what the table reads from a folder of records (:func:`read_folder`), the table itself
(:func:`table`: the rows under the protocol sentence, their provenance, each family's
validation-best spiking cell against its ordinary model, each ablation against its model,
and the cells of an earlier search-space version in a section of their own) and
:func:`summary`, the comparisons as data for the documentation to quote.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import statistics
import warnings
from pathlib import Path

from _common import machine_md

from spikegraph.datasets import DATASETS
from spikegraph.experiments import tune
from spikegraph.models import MODELS
from spikegraph.models.search_space import SEARCH_SPACES, SPACE_VERSION

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


@dataclasses.dataclass
class Cells:
    """The cell records of a folder's ``sweeps/``, read once (:func:`read_folder`).

    Attributes:
        records: The finished cells selected under the table's rule.
        unfinished: A line per unfinished cell, saying how far it got.
        started: The names of the unfinished cells.
        other: The finished cells selected under another rule.
    """

    records: list[dict]
    unfinished: list[str]
    started: set[str]
    other: list[dict]


def read_folder(folder: Path, rule: tune.Rescore | None) -> Cells:
    """The cell records in ``folder``'s ``sweeps/``, as :class:`Cells`."""
    cells = Cells([], [], set(), [])
    for path in sorted((folder / SWEEPS).glob("*.json")):
        rec = tune.read_records(path)
        if "final" in rec:
            asked = selected_as_asked(rec, rule, rec["final"]["seeds"])
            (cells.records if asked else cells.other).append(rec)
        else:
            budget = tune.Budget.from_dict(rec["config"]["budget"])
            counted = len(tune.counted_trials(rec["trials"], budget))
            cells.unfinished.append(
                f"{path.stem} ({counted} of {budget.trials} trials counted{stage_progress(rec)})"
            )
            cells.started.add(path.stem)
    return cells


def not_recorded(records: list[dict], started: set[str]) -> list[str]:
    """The cells of the full table (every default dataset and model) with no record at all,
    finished (``records``) or not (``started``, listed as in progress instead)."""
    recorded = started | {"-".join(cell_name(r)) for r in records}
    return [
        f"{d}-{m}" for d in DEFAULT_DATASETS for m in DEFAULT_MODELS if f"{d}-{m}" not in recorded
    ]


def summary(cells: Cells, args: argparse.Namespace) -> dict:
    """``tuned.json``: the comparisons of ``tuned.md`` as data, for the documentation to
    quote (:func:`family_rows`, :func:`ablation_rows`), with the record files and commits of
    the cells they read (the finished cells selected under the table's rule) and the cells
    not finished yet, so that a summary of some cells is never read as one of all."""
    records = cells.records
    tune.check_comparable(records, allow_mixed_commits=args.allow_mixed_commits)
    return {
        "format": "spikegraph-tuned/1",
        "space_version": tune.common_space_version(records),
        "cells": {
            f"{SWEEPS}/{'-'.join(cell_name(r))}.json": r["config"].get("commit") for r in records
        },
        "not_finished": sorted(
            cells.started | set(not_recorded(records + cells.other, cells.started))
        ),
        "families": family_rows(records),
        "ablations": ablation_rows(records),
    }


def table(
    folder: Path,
    args: argparse.Namespace,
    rule: tune.Rescore | None = None,
    cells: Cells | None = None,
) -> str:
    """``tuned.md`` from every finished cell record under ``folder`` selected under ``rule``
    (``cells``: the folder's records if already read), checked comparable. Finished records
    selected under another rule (a sweep's best, before re-scoring was asked) follow in a
    table of their own, under their own protocol sentence: a row of one rule never stands in
    a table of another."""
    cells = read_folder(folder, rule) if cells is None else cells
    records, other = cells.records, cells.other
    tune.check_comparable(records, allow_mixed_commits=args.allow_mixed_commits)
    runs, body, listing = rows_section(records, "No cell has finished under this rule.")
    missing = not_recorded(records + other, cells.started)
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
        + (f" In progress: {', '.join(cells.unfinished)}." if cells.unfinished else "")
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
    where it is undefined: a cell with fewer than two seeds, or both cells with the same
    accuracy on every seed (no spread)."""
    from scipy import stats

    if min(len(a), len(b)) < 2:
        return None
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
        "Cells tied on validation are all listed. Every cell has the same budget, but the "
        "spiking side is the best of several cells and the ordinary side one: the choice "
        "among more configurations, on validation, favours the spiking side.\n\n"
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
    rows = ablation_rows(records)
    if not rows:
        return ""
    cells = {cell_name(r): r["final"] for r in records}
    counts = sorted(
        {
            len(cells[r["dataset"], name]["test_acc"])
            for r in rows
            for name in (r["model"], r["variant"])
        }
    )
    over = (
        f"the {counts[0]} final seeds"
        if len(counts) == 1
        else f"each cell's final seeds ({counts[0]} to {counts[-1]})"
    )
    lines = [
        f"| {r['dataset']} | {r['model']} | {r['variant']} "
        f"({', '.join(f'{k}={v}' for k, v in r['fixed'].items())}) | "
        f"{100 * r['test_acc_mean']:.2f} ± {100 * r['test_acc_std']:.2f} | "
        f"{100 * r['variant_test_acc_mean']:.2f} ± {100 * r['variant_test_acc_std']:.2f} | "
        f"{100 * r['difference']:.2f} | {p_text(r['p_welch'])} | "
        f"{100 * r['val_difference']:.2f} |"
        for r in rows
    ]
    return (
        "\n## Ablations, in the same protocol\n\n"
        "Each ablation cell (its model with the options shown held fixed in every trial, "
        "tuned and evaluated as every cell is) against its model. Test accuracies: mean ± "
        f"population standard deviation (`statistics.pstdev`) over {over}. Difference: the "
        "model's test mean minus the ablation's, in points; p: Welch's two-sided t-test of their "
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
    mixed = False  # a cell trained on several hardware kinds
    for r in records:
        prov = r.get("provenance") or {}
        again = (r.get("rescore") or {}).get("provenance")
        machine = machine_md(prov["machine"]) if prov.get("machine") else "machine not recorded"
        head = f"`{prov.get('command')}`, {machine}{at_commit(prov, r)}"
        if again:
            head += f"; re-scored by `{again['command']}`{at_commit(again, r)}"
        kinds = cell_hardware_kinds(r)
        mixed |= len(kinds) > 1
        groups.setdefault(head, []).append(
            f"  - {'-'.join(cell_name(r))}: {prov.get('date')}"
            + (f" (re-scored {again['date']})" if again else "")
            + (f"; hardware kinds: {', '.join(kinds)}" if len(kinds) > 1 else "")
        )
    text = "\n".join(f"- {head}:\n" + "\n".join(cells) for head, cells in groups.items())
    if mixed:
        text += (
            "\n\nHardware kinds: a cell whose runs trained on more than one kind of CPU (a "
            "sweep resumed on another machine) names them. Each trial trained on one (its "
            "`ran_on` in the record; a stopped trial's seeds are trained again on another "
            "kind), and so does each re-scoring and final run where the record keeps it "
            "(`ran_on`); the cell's last process is the one in its provenance. A run repeats "
            "exactly on its own kind; on another, a score may move by a node."
        )
    return text


def cell_hardware_kinds(record: dict) -> list[str]:
    """The kinds of hardware (:func:`spikegraph.experiments.tune.ran_on`) a cell's record
    says its runs trained on: its trials', its re-scoring's and final runs' where kept, and
    the machine of its provenance (the process that finished it)."""
    kinds = {t["ran_on"] for t in record.get("trials", ()) if t.get("ran_on")}
    for stage in (record.get("rescore") or {}, record.get("final") or {}):
        kinds.update(k for k in stage.get("ran_on") or () if k and k != "unknown")
    machine = (record.get("provenance") or {}).get("machine") or {}
    if machine.get("cpu") and machine.get("cuda_device") is None:  # trained on its CPU
        kinds.add(f"cpu: {machine['cpu']}")
    return sorted(kinds)
