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
data for the documentation to quote. The cells, the table and its comparisons are built by
``_tuned_table.py`` from the records alone; this script runs the sweeps.

    python benchmarks/tune_sweeps.py --trials 50 --update-results          # every cell
    python benchmarks/tune_sweeps.py --trials 50 --update-results --datasets Cora --models gcn
    python benchmarks/tune_sweeps.py --quick                                # smoke run

Resumable: a cell whose record holds its final evaluation under the same configuration is
skipped (asked for other ``--final-seeds``, it is refused before anything runs: its final
row is never replaced, nor its stored final study mixed with other seeds); an unfinished
cell resumes its study from the Optuna storage (``--storage``, by default an SQLite file in
the scratch folder ``results/local/``, never committed), keeping its finished trials and
the finished seeds of its final evaluation. The record of an unfinished cell is written
after every trial and every seed of a running trial (a trial retried there trains only its
unfinished seeds), so a sweep also resumes where that database is gone (another machine,
from the committed record, run at the record's commit): its trials come back under their
numbers and the sweep goes on as it would have. The re-scoring
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
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    RESULTS,
    SCRATCH,
    add_output_options,
    atomic_write_text,
    check_names,
    command_line,
    output_dir,
    provenance,
)
from _tuned_table import (
    DEFAULT_DATASETS,
    DEFAULT_MODELS,
    SWEEPS,
    VARIANTS,
    read_folder,
    selected_as_asked,
    summary,
    table,
)

from spikegraph.datasets import DATASETS
from spikegraph.experiments import tune
from spikegraph.models.search_space import equivalent_versions

STEM = "tuned"
#: How many of each sweep's best trials the selection re-scores on other seeds.
RESCORE_TOP = 3


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


def check_final_seeds(name: str, path: Path, record, final_seeds) -> None:
    """Refuse ``final_seeds`` for a cell whose record (at ``path``) holds a final row on other
    seeds: its evaluation would replace that row, and the final study stored in the database
    under the cell's name refuses other seeds anyway (after the re-scoring ran again). Nothing
    runs: the error names the cell, both seed lists and the options that go on."""
    final = (record or {}).get("final")
    if not final or list(final["seeds"]) == list(final_seeds):
        return
    ran = list(final["seeds"])
    raise tune.StudyMismatchError(
        f"{name}: its final evaluation in {path} ran on seeds {ran}, not on --final-seeds "
        f"{list(final_seeds)}; nothing was run: give --final-seeds {' '.join(map(str, ran))} "
        "to keep it, leave the cell out (--datasets, --models), or evaluate other seeds in a "
        "new folder (--out DIR)"
    )


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


def rescore_provenance(
    before: dict[str, Any] | None, now: dict[str, Any], command: str
) -> dict[str, Any]:
    """The provenance of a re-scoring: the one ``before`` (the record's) had when it
    reached the same result (rule, candidates, selection), which a resumed process only read
    back from its kept runs; else this process's."""
    same = ("rule", "candidates", "trial")
    if before and before.get("provenance") and all(before.get(k) == now.get(k) for k in same):
        return before["provenance"]
    return provenance(command)


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
    try:
        args.final_seeds = tune.check_seed_option(args.final_seeds, "--final-seeds")
    except ValueError as err:
        p.error(str(err))
    reused = sorted(set(args.final_seeds) & set(args.seeds))
    if reused:
        p.error(f"--final-seeds {reused} are also tuning seeds (--seeds): give fresh ones")
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
                check_final_seeds(f"{dataset}-{model}", path, record, args.final_seeds)
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
            records["rescore"]["provenance"] = rescore_provenance(
                (record or {}).get("rescore"), records["rescore"], command
            )
        final = tune.kept_final(records, args.final_seeds)
        if final is not None:  # the selection did not change: its final row stands
            records["final"] = final
        else:
            try:
                records["final"] = tune.final_evaluation(
                    records, args.final_seeds, root=args.root, device=args.device,
                    storage=storage, on_stage=on_stage,
                )  # fmt: skip
            except tune.StudyMismatchError as err:  # stored there on other seeds: not mixed
                p.error(
                    f"{name}: {err}; with this script: give the --final-seeds it was run with, "
                    "or another database (--storage URL)"
                )
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
            f"{100 * row['test_acc_mean']:.2f} +- {100 * row['test_acc_std']:.2f} (mean +- "
            f"population std over {len(row['seeds'])} seeds), features {row['features']} "
            f"({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
    try:
        cells = read_folder(folder, rule)  # once, for both files
        text = table(folder, args, rule, cells)
    except ValueError as err:
        p.error(str(err))
    if out is None:
        print(text)
        return 0
    data = json.dumps(summary(cells, args), indent=1)  # both files, or neither
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
