"""``--out`` naming the committed results folder, however spelt, is ``--update-results``
in disguise: refused without it, and always with ``--quick``. Nothing here writes: the
output folder is only resolved."""

from __future__ import annotations

import argparse

import pytest

from tests.benchmarks.conftest import ROOT, load


def _parser():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    load("_common").add_output_options(p)
    return p


def _refused(argv, capsys) -> str:
    p = _parser()
    with pytest.raises(SystemExit) as exc:
        load("_common").output_dir(p, p.parse_args(argv))
    assert exc.value.code == 2
    return capsys.readouterr().err


# ----------------------------------------------------------------------------- --out
@pytest.mark.parametrize(
    "spelt", ["benchmarks/results", "./benchmarks/results", "benchmarks/x/../results/"]
)
@pytest.mark.parametrize("quick", [False, True])
def test_out_naming_the_committed_results_needs_update_results(spelt, quick, capsys, monkeypatch):
    # The real folder, spelt relative to the checkout: output_dir only reads paths.
    monkeypatch.chdir(ROOT)
    err = _refused([*(["--quick"] if quick else []), "--out", spelt], capsys)
    assert spelt in err and "committed results" in err
    if quick:
        assert "--quick" in err and "never replaces the committed results" in err
    else:
        assert "--update-results" in err


def test_out_through_a_link_to_the_committed_results_is_refused(tmp_path, capsys):
    link = tmp_path / "link"
    link.symlink_to(load("_common").RESULTS, target_is_directory=True)
    err = _refused(["--quick", "--out", str(link)], capsys)
    assert str(link) in err and "committed results" in err
    err = _refused(["--out", str(link)], capsys)
    assert "--update-results" in err


def test_out_inside_the_committed_results_stays_allowed(results_copy, capsys):
    # the sweep scripts write pending records with --out benchmarks/results/pending/...
    p = _parser()
    common = load("_common")
    for argv in (
        ["--out", str(results_copy / "pending" / "x")],
        ["--quick", "--out", str(results_copy / "pending" / "x")],
    ):
        assert common.output_dir(p, p.parse_args(argv)) == results_copy / "pending" / "x"
    out = common.output_dir(p, p.parse_args(["--update-results"]))
    assert out == results_copy
    assert "(the committed results)" in capsys.readouterr().out


def test_out_naming_the_scratch_folder_says_so(results_copy, capsys, monkeypatch):
    monkeypatch.chdir(results_copy)
    p = _parser()
    out = load("_common").output_dir(p, p.parse_args(["--out", "local"]))
    assert out.resolve() == (results_copy / "local").resolve()
    assert "scratch folder" in capsys.readouterr().out
