"""A run that would drop or replace rows of the results file in its folder is refused before
it starts: by name (a row it does not measure), and by settings (a row it measures otherwise,
a ``--quick`` run's one seed and few epochs in place of a full run's).

Nothing here runs a benchmark: every script's work is replaced by a function that raises
:class:`RanError`, so a guard that lets a run through ends the test at once, and the results
files are copies of the committed ones in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.benchmarks.conftest import BENCH, ROOT, deadline, load, snapshot


class RanError(Exception):
    """A benchmark got past its guards and started working."""


def _parser():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    load("_common").add_output_options(p)
    return p


# ----------------------------------------------------------------------------- check_rows_kept
def _file(tmp_path, rows):
    (tmp_path / "x.json").write_text(json.dumps({"rows": rows}))


def _rows(record):
    return {r["name"]: {"seeds": r["seeds"], "epochs": r["epochs"]} for r in record["rows"]}


def test_a_row_of_other_settings_counts_as_another_row(tmp_path, capsys):
    common = load("_common")
    _file(tmp_path, [{"name": "Cora", "seeds": [0, 1, 2], "epochs": 200}])
    planned = {"Cora": {"seeds": [0], "epochs": 200}}
    with pytest.raises(SystemExit) as exc:
        common.check_rows_kept(_parser(), tmp_path, "x", planned, _rows)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "['Cora'] measured with other settings" in err
    assert "seeds=[0, 1, 2] in the file, seeds=[0] in this run" in err
    assert "epochs" not in err  # only what differs
    assert "remove the file" in err


def test_a_row_of_the_same_settings_is_replaced(tmp_path):
    common = load("_common")
    _file(tmp_path, [{"name": "Cora", "seeds": [0, 1], "epochs": 200}])
    # tuples and lists alike: the settings are compared as the file holds them (JSON)
    planned = {"Cora": {"seeds": (0, 1), "epochs": 200}, "PubMed": {"seeds": (0, 1), "epochs": 200}}
    common.check_rows_kept(_parser(), tmp_path, "x", planned, _rows)


def test_dropped_and_changed_rows_are_named_together(tmp_path, capsys):
    common = load("_common")
    _file(
        tmp_path,
        [
            {"name": "Cora", "seeds": [0], "epochs": 200},
            {"name": "PubMed", "seeds": [0], "epochs": 200},
        ],
    )
    with pytest.raises(SystemExit):
        common.check_rows_kept(
            _parser(), tmp_path, "x", {"Cora": {"seeds": [0], "epochs": 3}}, _rows
        )
    err = capsys.readouterr().err
    assert "['PubMed']" in err and "would drop them" in err
    assert "epochs=200 in the file, epochs=3 in this run" in err


def test_rows_named_only_still_compare_by_name(tmp_path, capsys):
    common = load("_common")
    _file(tmp_path, [{"name": "Cora"}, {"name": "PubMed"}])
    names = lambda r: [x["name"] for x in r["rows"]]  # noqa: E731
    common.check_rows_kept(_parser(), tmp_path, "x", ["PubMed", "Cora"], names)
    with pytest.raises(SystemExit):
        common.check_rows_kept(_parser(), tmp_path, "x", ["Cora"], names)
    assert "['PubMed']" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the scripts
#: Per script: the attributes whose call is the benchmark's work (replaced by :func:`_ran`),
#: the committed files it writes, and a run of the committed rows under other settings.
SCRIPTS = {
    "vrgcn_cvd": (["measure"], ["vrgcn_cvd"], ["--batches", "5"]),
    "saint_norms": (
        ["load_dataset", "reference", "measure"],
        ["saint_norms"],
        ["--reference-coverage", "10000"],
    ),
    "scale": (["bench_dataset"], ["scale"], ["--epochs", "2"]),
    "pyg_example": (["load_dataset", "run"], ["pyg_example"], ["--epochs", "3"]),
    "class_defaults_sweep": (
        ["load_dataset", "best_val_accuracy"],
        ["class_defaults_sweep"],
        ["--seeds", "0"],
    ),
    "ddp_speedup": (["one_run"], ["ddp_speedup"], ["--repeats", "1"]),
    "energy": (["load_dataset", "model_cost"], ["energy"], ["--epochs", "50"]),
}


def _ran(*args, **kwargs):
    raise RanError("the benchmark started working")


@pytest.fixture
def guarded(tmp_path, monkeypatch):
    """``(module, folder)``: a script whose work raises :class:`RanError`, and a folder holding
    copies of its committed results files."""

    def make(name):
        mod = load(name)
        work, stems, _ = SCRIPTS[name]
        for attr in [*work, "publish", "write_results"]:
            monkeypatch.setattr(mod, attr, _ran, raising=False)
        monkeypatch.setattr("spikegraph.datasets.load_dataset", _ran)
        if hasattr(os, "sched_getaffinity"):  # ddp_speedup refuses a machine of one CPU
            monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
        folder = tmp_path / "out"
        folder.mkdir()
        for stem in stems:
            for ext in ("json", "md"):
                shutil.copy(BENCH / "results" / f"{stem}.{ext}", folder)
        return mod, folder

    return make


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_a_quick_run_into_a_full_results_file_is_refused_before_any_work(name, guarded, capsys):
    mod, folder = guarded(name)
    before = snapshot(folder)
    with deadline(60), pytest.raises(SystemExit) as exc:
        mod.main(["--quick", "--out", str(folder)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert str(folder) in err and ("would drop them" in err or "in this run" in err), err
    assert snapshot(folder) == before


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_other_settings_for_the_same_rows_are_refused(name, guarded, capsys):
    mod, folder = guarded(name)
    before = snapshot(folder)
    with deadline(60), pytest.raises(SystemExit) as exc:
        mod.main([*SCRIPTS[name][2], "--out", str(folder)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "in the file" in err and "in this run" in err, err
    assert snapshot(folder) == before


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        *((name, stem) for name in sorted(SCRIPTS) for stem in SCRIPTS[name][1]),
        ("class_defaults_sweep", "class_defaults_encoding"),
        ("class_defaults_sweep", "class_defaults_dropout"),
    ],
)
def test_the_committed_command_plans_the_committed_rows(name, stem, guarded):
    """A rerun of the command that made a committed file passes the guard: it replaces the
    same rows under the same settings. (Not ``class_defaults_tuned``: its candidates come from
    the sweep record's selected trial, which may have changed since.)"""
    mod, folder = guarded(name)
    shutil.copy(BENCH / "results" / f"{stem}.json", folder)
    command = json.loads((folder / f"{stem}.json").read_text())["provenance"]["command"]
    argv = command.split(f"benchmarks/{name}.py", 1)[1].split()
    argv = [a for a in argv if a != "--update-results"]
    if "--scratch" in argv:
        del argv[argv.index("--scratch") : argv.index("--scratch") + 2]
    with deadline(60), pytest.raises(RanError):
        mod.main([*argv, "--out", str(folder)])


def test_energy_plans_its_rows_with_their_settings(guarded):
    mod, folder = guarded("energy")
    committed = json.loads((folder / "energy.json").read_text())
    ((key, settings),) = mod.rows_in(committed).items()
    assert key == "Cora: sgcn vs gcn"
    assert settings["seeds"] == list(range(100, 110)) and settings["epochs"] is None
    assert settings["profile"] == "45nm"
    assert settings["options"] == json.loads(json.dumps(committed["options"]))


def test_a_refused_run_exits_before_any_work_and_leaves_the_file(tmp_path, data_root):
    """End to end, as a user starts it: the reviewer's reproducer."""
    folder = tmp_path / "vr"
    folder.mkdir()
    for ext in ("json", "md"):
        shutil.copy(BENCH / "results" / f"vrgcn_cvd.{ext}", folder)
    before = snapshot(folder)
    env = {**os.environ, "SPIKEGRAPH_DATA": str(data_root), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(BENCH / "vrgcn_cvd.py"), "--quick", "--out", str(folder)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "['CiteSeer', 'PubMed']" in proc.stderr and "would drop them" in proc.stderr
    assert "done" not in proc.stdout  # no dataset was measured
    assert snapshot(folder) == before
