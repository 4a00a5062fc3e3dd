"""benchmarks/_common.py: output folders, run logs, provenance, child processes."""

from __future__ import annotations

import argparse
import json
import os
import re

import pytest

from tests.benchmarks.conftest import deadline, load


def _raising_child(job, queue):
    queue.put({"first": 1})
    raise ValueError(f"boom {job['n']}")


def _silent_death(job, queue):
    os._exit(3)


def test_a_child_that_raises_ends_the_parent_with_its_error():
    common = load("_common")
    got = []
    with deadline(30), pytest.raises(common.BenchmarkChildError) as exc:
        for item in common.run_in_child(_raising_child, {"n": 42}, "row x", "fork", 0.2):
            got.append(item)
    assert got == [{"first": 1}]
    assert "row x failed" in str(exc.value) and "ValueError: boom 42" in str(exc.value)


def test_a_child_that_dies_without_a_word_ends_the_parent():
    common = load("_common")
    with deadline(30), pytest.raises(common.BenchmarkChildError, match="exit code 3"):
        list(common.run_in_child(_silent_death, {}, "row y", "fork", 0.2))


def _parser():
    common = load("_common")
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    common.add_output_options(p)
    return p


@pytest.mark.parametrize(
    ("argv", "where"),
    [([], "scratch"), (["--update-results"], "results"), (["--quick"], None)],
)
def test_output_folder(argv, where, results_copy, capsys):
    p = _parser()
    out = load("_common").output_dir(p, p.parse_args(argv))
    expected = {"scratch": results_copy / "local", "results": results_copy, None: None}[where]
    assert out == expected
    assert str(out if out is not None else "writing no results") in capsys.readouterr().out


def test_a_smoke_run_never_updates_the_committed_results(results_copy):
    p = _parser()
    with pytest.raises(SystemExit) as exc:
        load("_common").output_dir(p, p.parse_args(["--quick", "--update-results"]))
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        p.parse_args(["--out", "x", "--update-results"])


def test_run_logs_skip_a_cut_last_line_and_refuse_a_bad_one(tmp_path, capsys):
    common = load("_common")
    log = tmp_path / "runs.jsonl"
    log.write_text(json.dumps({"a": 1}) + "\n" + '{"a": 2, "b"')  # killed while writing
    assert common.read_runs(log) == [{"a": 1}]
    assert "cut short" in capsys.readouterr().out
    log.write_text('{"a": 2, "b"\n' + json.dumps({"a": 1}) + "\n")
    with pytest.raises(ValueError, match=r"runs.jsonl:1"):
        common.read_runs(log)


def test_distinct_provenances_keep_their_date_ranges():
    common = load("_common")
    a = {"command": "a", "machine": {"m": 1}, "git_commit": None}
    b = {**a, "command": "b"}
    groups = common.group_provenance(
        [
            ("r", 0, {**a, "date": "2026-01-02"}),
            ("r", 1, {**b, "date": "2026-02-01"}),
            ("s", 0, {**a, "date": "2026-01-01"}),
        ]
    )
    assert [(g["command"], g["first_date"], g["last_date"], g["rows"]) for g in groups] == [
        ("a", "2026-01-01", "2026-01-02", {"r": [0], "s": [0]}),
        ("b", "2026-02-01", "2026-02-01", {"r": [1]}),
    ]
    md = common.sources_md(groups)
    assert "2026-01-01 to 2026-01-02" in md and "`b`" in md


@pytest.mark.parametrize(
    "arg, recorded",
    [
        ("sqlite:////tmp/logs/space-v2.db", "sqlite:///<local>/space-v2.db"),
        ("/work/shared/datasets", "<local>/datasets"),
        ("--root=/home/me/data/", "--root=<local>/data"),
        ("benchmarks/results/pending/x", "benchmarks/results/pending/x"),
        ("sqlite:///relative.db", "sqlite:///relative.db"),
        ("0.5", "0.5"),
    ],
)
def test_a_recorded_command_names_no_path_of_the_machine_that_ran_it(arg, recorded):
    # A committed results file must not name a folder of the machine that made it (a
    # scratch database, a data folder): it names the file, under a placeholder.
    common = load("_common")
    assert common.command_line("x.py", ["--opt", arg]) == f"python benchmarks/x.py --opt {recorded}"


def test_the_committed_results_name_no_absolute_path():
    # The guard above, on what is committed (the scratch folder `local/` is not).
    common = load("_common")
    absolute = re.compile(r"(?<![\w.<>~/-])/(tmp|work|home|root|Users|mnt|var)/|:////")
    named = [
        f"{path.relative_to(common.RESULTS)}: {line.strip()[:120]}"
        for path in sorted(common.RESULTS.rglob("*"))
        if path.is_file() and "local" not in path.relative_to(common.RESULTS).parts
        for line in path.read_text(errors="replace").splitlines()
        if absolute.search(line)
    ]
    assert not named, "\n".join(named)


def test_the_library_commit_moves_only_with_the_library(tmp_path, monkeypatch):
    """A run log keyed by it stays valid across commits of benchmarks or results only."""
    import subprocess

    common = load("_common")

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(tmp_path), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    git("init", "-q")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    for folder in ("spikegraph", "benchmarks"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.py").write_text("x = 1\n")
    git("add", ".")
    git("commit", "-qm", "library")
    library = git("rev-parse", "HEAD")
    monkeypatch.setattr(common, "HERE", tmp_path / "benchmarks")
    assert common.library_commit() == library
    (tmp_path / "benchmarks" / "a.py").write_text("x = 2\n")
    git("commit", "-qam", "a benchmark only")
    assert git("rev-parse", "HEAD") != library and common.library_commit() == library
    (tmp_path / "spikegraph" / "a.py").write_text("x = 3\n")
    assert common.library_commit() == f"{library} + uncommitted changes"
    git("commit", "-qam", "the library again")
    assert common.library_commit() == git("rev-parse", "HEAD")
