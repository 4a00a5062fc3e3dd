"""A study's provenance names what computed its cells: each cell records the command (or
the Python API) and the commit that computed it, and ``study.json`` and ``study.md`` list
every command and commit of the shown cells, not only the call that wrote the report (a
resumed study reuses cells of earlier commands). Neither is part of a cell's key: a study
resumed by another command, or at another commit of the same source, reuses its cells."""

from __future__ import annotations

import json

import pytest

from spikegraph.experiments.study import run_sampler_study, runner
from spikegraph.experiments.study.summary import UNKNOWN_ORIGIN, to_markdown
from tests.experiments.study.conftest import study_args

CLI = ["spikegraph", "study", "samplers", "--dataset", "ogbn-arxiv"]


@pytest.fixture
def fixed_source(monkeypatch):
    """One source digest for the whole test: other files of the checkout may change while
    it runs, which would make its second study refuse its first one's cells."""
    monkeypatch.setattr(runner, "source_digest", lambda: "5" * 64)


def _small(root, out, **changes):
    """gcn through full-batch and GraphSAGE, one seed, no plots (fast)."""
    args = study_args(root, out, models=["gcn"], samplers=["graphsage"], seeds=[0], plots=False)
    args["model_options"] = {"gcn": args["model_options"]["gcn"]}
    args["sampler_options"] = {}
    return {**args, **changes}


def _cell(measured):
    machine = {"platform": "Linux", "processor": "x86_64", "cpu_count": 2}
    return {
        "measured": {"date": "2024-01-01T00:00:00+00:00", "machine": machine, "jobs": 1, **measured}
    }


def test_each_cell_records_its_command_and_commit_and_the_study_lists_them(
    tmp_path, tiny_arxiv_root, fixed_source
):
    """The reproducer of the user trial: a CLI command computes two cells, then the Python
    API adds a model to the same folder (two more cells)."""
    out = tmp_path / "out"
    first = run_sampler_study(**_small(tiny_arxiv_root, out), command=CLI)
    assert len(first.computed) == 2
    commit = runner._commit()
    for cell in first.cells:
        assert cell["measured"]["command"] == CLI
        assert cell["measured"]["git_commit"] == commit
    assert first.provenance["command"] == CLI and first.provenance["git_commit"] == commit
    assert "commands" not in first.provenance

    gcn = study_args(tiny_arxiv_root, out)["model_options"]
    second = run_sampler_study(
        **_small(tiny_arxiv_root, out, models=["gcn", "sgcn"], model_options=gcn)
    )
    assert sorted(second.reused) == ["gcn--full-batch--seed0", "gcn--graphsage--seed0"]
    assert sorted(second.computed) == ["sgcn--full-batch--seed0", "sgcn--graphsage--seed0"]
    by_id = {c["id"]: c["measured"] for c in second.cells}
    assert by_id["gcn--graphsage--seed0"]["command"] == CLI
    assert by_id["sgcn--graphsage--seed0"]["command"] is None  # the Python API
    on_disk = json.loads((out / "cells" / "gcn--graphsage--seed0.json").read_text())
    assert on_disk["measured"]["command"] == CLI and "command" not in on_disk["key"]

    summary = json.loads((out / "study.json").read_text())
    provenance = summary["provenance"]
    assert "command" not in provenance and "git_commit" not in provenance
    assert provenance["commands"] == [
        {"command": CLI, "git_commit": commit, "cells": 2},
        {"command": None, "git_commit": commit, "cells": 2},
    ]
    assert provenance["written_by"] == {"command": None, "git_commit": commit}
    md = (out / "study.md").read_text()
    assert f"`{' '.join(CLI)}` at commit {commit} (2 cells)" in md
    assert f"the Python API at commit {commit} (2 cells)" in md


def test_another_command_or_commit_reuses_the_cells(
    tmp_path, tiny_arxiv_root, monkeypatch, fixed_source
):
    """Command and commit are provenance, not configuration: same source, same cells."""
    out = tmp_path / "out"
    run_sampler_study(**_small(tiny_arxiv_root, out), command=CLI)
    monkeypatch.setattr(runner, "_commit", lambda: "0123abc + uncommitted changes")
    again = run_sampler_study(**_small(tiny_arxiv_root, out), command=["spikegraph", "other"])
    assert again.computed == [] and len(again.reused) == 2
    assert again.provenance["command"] == CLI  # the cells', not this call's
    assert again.provenance["written_by"] == {
        "command": ["spikegraph", "other"],
        "git_commit": "0123abc + uncommitted changes",
    }


def test_cells_written_before_commands_were_recorded_are_of_an_unknown_command(
    tmp_path, tiny_arxiv_root, fixed_source
):
    """Older cell files have no command or commit: they load, are reused, and are reported
    as of an unknown command, beside the cells that do record theirs."""
    out = tmp_path / "out"
    first = run_sampler_study(**_small(tiny_arxiv_root, out, seeds=[0, 1]), command=CLI)
    files = sorted((out / "cells").iterdir())
    assert len(files) == 4
    for path in files[:3]:
        cell = json.loads(path.read_text())
        del cell["measured"]["command"], cell["measured"]["git_commit"]
        path.write_text(json.dumps(cell))
    again = run_sampler_study(**_small(tiny_arxiv_root, out, seeds=[0, 1]), command=["x"])
    assert again.computed == [] and len(again.reused) == 4
    assert again.provenance["commands"] == [
        {"command": UNKNOWN_ORIGIN, "git_commit": UNKNOWN_ORIGIN, "cells": 3},
        {"command": CLI, "git_commit": first.provenance["git_commit"], "cells": 1},
    ]
    md = (out / "study.md").read_text()
    unknown = "an unknown command and commit (3 cells, written before cell files recorded them)"
    assert f"    - {unknown}\n" in md
    assert f"    - `{' '.join(CLI)}` at commit " in md and "(1 cell)\n" in md
    assert "`x`" not in md  # this call computed no cell


def test_the_provenance_of_cells_groups_them_by_command_and_commit():
    cli = {"command": CLI, "git_commit": "abc"}
    api = {"command": None, "git_commit": "abc"}
    one = runner.cells_provenance([_cell(cli), _cell(cli)])
    assert one["command"] == CLI and one["git_commit"] == "abc" and "commands" not in one
    assert runner.cells_provenance([_cell({})])["command"] == UNKNOWN_ORIGIN
    mixed = runner.cells_provenance([_cell(cli), _cell(api), _cell(cli), _cell({})])
    assert "command" not in mixed and "git_commit" not in mixed
    assert mixed["commands"] == [
        {"command": CLI, "git_commit": "abc", "cells": 2},
        {"command": None, "git_commit": "abc", "cells": 1},
        {"command": UNKNOWN_ORIGIN, "git_commit": UNKNOWN_ORIGIN, "cells": 1},
    ]
    # the same command at two commits is two entries
    other = {"command": CLI, "git_commit": "def"}
    assert len(runner.cells_provenance([_cell(cli), _cell(other)])["commands"]) == 2


def test_the_report_shows_one_command_or_each_with_its_cells(shared_study):
    result, _ = shared_study
    single = {"command": CLI, "git_commit": "abc"}
    md = to_markdown(result.study, result.rows, single, [])
    assert f"- command: `{' '.join(CLI)}`\n" in md and "- spikegraph commit: abc;" in md
    unknown = {"command": UNKNOWN_ORIGIN, "git_commit": UNKNOWN_ORIGIN}
    md = to_markdown(result.study, result.rows, unknown, [])
    assert "- command: unknown (written before cell files recorded them)\n" in md
    assert "- spikegraph commit: unknown;" in md
    several = {
        "commands": [
            {"command": CLI, "git_commit": "abc", "cells": 3},
            {"command": None, "git_commit": None, "cells": 1},
        ]
    }
    md = to_markdown(result.study, result.rows, several, [])
    assert "- commands that computed the shown cells:\n" in md
    assert f"    - `{' '.join(CLI)}` at commit abc (3 cells)\n" in md
    assert "    - the Python API at commit None (1 cell)\n" in md
    assert "- spikegraph commit: of each command above;" in md
