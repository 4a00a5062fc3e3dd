"""Carry the finished runs of a re-scoring under way from one machine to another.

The runs of a re-scoring and of a final evaluation are trials of Optuna studies in the
sweep's database (``<study>:rescore``, ``<study>:final...``); a cell's record is written only
when its cell is done. This copies the finished trials of the studies named ``PREFIX...``
into a text file (an Optuna journal) that can be committed, and back into a database on the
next machine, where ``tune_sweeps.py`` resumes with them. Running trials are not copied:
they would look taken, with no worker to finish them.

    python carry.py export sqlite:////tmp/pubmed-rescoring.db runs.journal PubMed-gcsnn
    python carry.py import runs.journal sqlite:////tmp/pubmed-rescoring.db

Each study is copied with the key it was opened with (its ``config`` user attribute), set
last: a worker that joins waits for it, and one of another configuration is refused as
ever. Exists for this folder only, and goes with it.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import optuna
from optuna.storages import JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend


def copy(
    src: optuna.storages.BaseStorage, dst: optuna.storages.BaseStorage, prefixes: list[str]
) -> None:
    """Copy the finished trials and the key of each study of ``src`` named ``prefixes*``."""
    for summary in optuna.get_all_study_summaries(src, include_best_trial=False):
        name = summary.study_name
        if prefixes and not name.startswith(tuple(prefixes)):
            continue
        old = optuna.load_study(study_name=name, storage=src)
        done = [t for t in old.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
        new = optuna.create_study(study_name=name, storage=dst, directions=old.directions)
        for t in done:
            new._storage.create_new_trial(new._study_id, template_trial=t)
        for key, value in old.user_attrs.items():
            new.set_user_attr(key, value)
        print(f"{name}: {len(done)} finished run(s)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("verb", choices=["export", "import"])
    p.add_argument("source", help="database URL (export) or journal file (import)")
    p.add_argument("target", help="journal file (export) or database URL (import)")
    p.add_argument("prefixes", nargs="*", help="export only studies named so (all if none)")
    args = p.parse_args()
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.verb == "export":
        if Path(args.target).exists():  # a journal appends: an older copy would clash
            p.error(f"{args.target} exists (an earlier copy?): remove it first")
        copy(
            RDBStorage(args.source), JournalStorage(JournalFileBackend(args.target)), args.prefixes
        )
    else:
        copy(JournalStorage(JournalFileBackend(args.source)), RDBStorage(args.target), [])


if __name__ == "__main__":
    main()
