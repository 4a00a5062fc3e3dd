"""benchmarks/_tuned_table.py: the table's comparisons (each family's validation-best
spiking cell against its ordinary model, each ablation against its model, with Welch's
t-test), its provenance bullets and the progress of unfinished cells, from records alone."""

from __future__ import annotations

import warnings

import pytest

from tests.benchmarks.conftest import load

tuned_table = load("_tuned_table")


def test_an_unfinished_cell_says_how_far_its_stopped_stages_got():
    key = {"config": {}}
    record = {"stages": {
        "c:final:trial-1": {"key": {**key, "final_of": "c", "trial": 1, "seeds": [100, 101, 102]},
                            "runs": [{"run": 100}]},
        "c:rescore": {"key": {**key, "rescore_of": "c", "trials": [4, 1],
                              "rule": {"top": 2, "seeds": [10, 11, 12]}},
                      "runs": [{"run": i} for i in range(6)]},
    }}  # fmt: skip
    assert tuned_table.stage_progress(record) == (
        "; re-scoring 6 of 6 runs; final evaluation of trial 1, 1 of 3 seeds"
    )
    del record["stages"]["c:final:trial-1"]
    record["stages"]["c:rescore"]["runs"].pop()
    assert tuned_table.stage_progress(record) == "; re-scoring 5 of 6 runs"
    assert tuned_table.stage_progress({}) == ""


def test_an_unfinished_cell_says_how_many_seeds_its_running_trial_finished():
    running = {"number": 3, "state": "RUNNING", "seeds": [0, 1, 2],
               "seed_runs": {"runs": [{"seed": 0}, {"seed": 1}]}}  # fmt: skip
    done = {"number": 2, "state": "COMPLETE", "seeds": [0, 1, 2]}
    assert tuned_table.stage_progress({"trials": [done, running]}) == "; trial 3 at 2 of 3 seeds"
    assert tuned_table.stage_progress({"trials": [done]}) == ""


def _finished(dataset, model, val, test, fixed=None):
    """A finished record with only what the family section reads (three seeds' test
    accuracies around the mean)."""
    return {"final": {"dataset": dataset, "model": model, "fixed": fixed or {},
                      "val_acc_mean": val, "test_acc_mean": test,
                      "test_acc": [test - 0.01, test, test + 0.01]}}  # fmt: skip


def _ablated(dataset, model, test, val, fixed=None):
    """A finished record with what the ablation section reads (per-seed test accuracies)."""
    record = _finished(dataset, model, val, sum(test) / len(test), fixed)
    std = (sum((t - record["final"]["test_acc_mean"]) ** 2 for t in test) / len(test)) ** 0.5
    record["final"].update(test_acc=test, test_acc_std=std)
    return record


def test_the_ablation_section_sets_each_variant_against_its_model_with_welchs_test():
    """The model's mean minus the variant's, on test and validation, and Welch's two-sided
    p-value, checked against the formula (unequal variances, Welch-Satterthwaite degrees of
    freedom); a dataset where one of the pair has not finished has no row."""
    from scipy import stats

    on, off = [0.80, 0.82, 0.81, 0.79, 0.83], [0.78, 0.80, 0.77, 0.76, 0.79, 0.81, 0.75]
    records = [
        _ablated("Cora", "gasnn", on, 0.805),
        _ablated("Cora", "gasnn", off, 0.790, {"norm": "none"}),
        _ablated("Cora", "gcsnn", on, 0.8),  # its ablation has not finished: no row
        _ablated("CiteSeer", "gasnn", on, 0.7, {"norm": "none"}),  # nor has its model
    ]
    (row,) = tuned_table.ablation_rows(records)
    assert (row["dataset"], row["model"], row["variant"]) == ("Cora", "gasnn", "gasnn-no-stfn")
    assert row["difference"] == pytest.approx(sum(on) / 5 - sum(off) / 7)
    assert row["val_difference"] == pytest.approx(0.015)

    def var(x):  # the sample variance, as Welch's test uses it
        m = sum(x) / len(x)
        return sum((v - m) ** 2 for v in x) / (len(x) - 1)

    se2 = [var(on) / len(on), var(off) / len(off)]
    t = row["difference"] / sum(se2) ** 0.5
    df = sum(se2) ** 2 / (se2[0] ** 2 / (len(on) - 1) + se2[1] ** 2 / (len(off) - 1))
    assert row["p_welch"] == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-9)
    assert 0.001 < row["p_welch"] < 0.05  # the example separates, but not overwhelmingly
    lines = _family_rows(tuned_table.ablation_section(records))
    std_on, std_off = (100 * r["final"]["test_acc_std"] for r in records[:2])
    assert lines == [["| Cora", "gasnn", "gasnn-no-stfn (norm=none)",
                      f"{100 * sum(on) / 5:.2f} ± {std_on:.2f}",
                      f"{100 * sum(off) / 7:.2f} ± {std_off:.2f}",
                      f"{100 * row['difference']:.2f}", f"{row['p_welch']:.2g}",
                      "1.50 |"]]  # fmt: skip
    assert tuned_table.ablation_section(records[2:]) == ""
    # the legend says what the ± is, over how many seeds (here 5 and 7: each cell's)
    pstdev = "Test accuracies: mean ± population standard deviation (`statistics.pstdev`) over"
    text = tuned_table.ablation_section(records)
    assert f"{pstdev} each cell's final seeds (5 to 7)." in text
    same = [records[0], _ablated("Cora", "gasnn", on[::-1], 0.79, {"norm": "none"})]
    assert f"{pstdev} the 5 final seeds." in tuned_table.ablation_section(same)


def _family_rows(text):
    return [line.split(" | ") for line in text.splitlines() if line.startswith("| ")][1:]


def test_the_family_section_sets_the_validation_best_spiking_cell_against_its_ordinary_model():
    """Chosen by validation only (the cell with the better test accuracy loses when its
    validation is lower); ties are all listed; an ablation variant counts in its family;
    unfinished members are named; a family without its ordinary model has no row."""
    records = [
        _finished("Cora", "gcn", 0.80, 0.815),
        _finished("Cora", "sgcn", 0.79, 0.80),
        _finished("Cora", "stfn-sgcn", 0.78, 0.81),  # better on test, worse on validation
        _finished("Cora", "gat", 0.81, 0.82),
        _finished("Cora", "sgat", 0.7862, 0.79),
        _finished("Cora", "gasnn", 0.7862, 0.76, {"norm": "none"}),  # gasnn-no-stfn
        _finished("CiteSeer", "sgcn", 0.70, 0.69),  # no CiteSeer GCN: no row
    ]
    text = tuned_table.family_section(records)
    rows = _family_rows(text)
    p = tuned_table.welch_p(records[0]["final"]["test_acc"], records[1]["final"]["test_acc"])
    assert 0.05 < p < 0.5  # equal spreads 1.5 points apart over 3 seeds: not separated
    assert rows[0] == ["| Cora", "gcn", "81.50", "sgcn (not finished: gcsnn, gcsnn-no-stfn)",
                       "79.00", "80.00", "1.50", f"{p:.2g} |"]  # fmt: skip
    assert [r[3].split(" (")[0] for r in rows[1:]] == ["sgat", "gasnn-no-stfn"]
    assert all("(tied on validation)" in r[3] for r in rows[1:])
    assert [r[-2] for r in rows[1:]] == ["3.00", "6.00"]
    assert [r["p_welch"] for r in tuned_table.family_rows(records)][:1] == [p]
    # no spread on either side: the test is undefined, said so, without a warning
    flat = [dict(r, final={**r["final"], "test_acc": [r["final"]["test_acc_mean"]] * 3})
            for r in records[:2]]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tuned_table.family_rows(flat)[0]["p_welch"] is None
    assert _family_rows(tuned_table.family_section(flat))[0][-1] == "n/a |"
    with warnings.catch_warnings():  # one side constant: defined (the other's spread)
        warnings.simplefilter("error")
        assert 0 < tuned_table.welch_p([0.5, 0.5, 0.5], [0.5, 0.52, 0.51]) < 1
        assert tuned_table.welch_p([0.5], [0.5, 0.52, 0.51]) is None  # one seed: no spread
    assert len(rows) == 3 and "CiteSeer" not in text
    # float rounding is not a difference; one node of validation is
    assert tuned_table.best_by_validation({"a": {"val_acc_mean": 0.8062000000000001},
                                      "b": {"val_acc_mean": 0.8062}}) == ["a", "b"]  # fmt: skip
    assert tuned_table.best_by_validation({"a": {"val_acc_mean": 0.8062},
                                      "b": {"val_acc_mean": 0.8064}}) == ["b"]  # fmt: skip
    assert tuned_table.family_section(records[-1:]) == ""


def _made(dataset, model, command, date, commit="c1", rescored=None):
    """A finished record with only what the provenance bullets read."""
    record = _finished(dataset, model, 0.8, 0.8)
    record["config"] = {"commit": "c1"}
    record["provenance"] = {"command": command, "date": date, "git_commit": commit,
                            "machine": {"cpu": "znver4"}}  # fmt: skip
    if rescored:
        record["rescore"] = {"provenance": {"command": command, "date": rescored,
                                            "git_commit": commit}}  # fmt: skip
    return record


def test_provenance_is_written_once_per_command_machine_and_commit():
    """Cells made by one command on one machine at one commit share one bullet, each cell
    under it with its own dates; another command, or a later commit, starts another."""
    records = [
        _made("Cora", "gcn", "run A", "d1", rescored="d0"),
        _made("Cora", "sgcn", "run A", "d2", rescored="d1b"),
        _made("PubMed", "sgat", "run B", "d3"),
        _made("PubMed", "gcsnn", "run A", "d4", commit="c2"),
    ]
    assert tuned_table.made_by(records).splitlines() == [
        "- `run A`, cpu znver4; re-scored by `run A`:",
        "  - Cora-gcn: d1 (re-scored d0)",
        "  - Cora-sgcn: d2 (re-scored d1b)",
        "- `run B`, cpu znver4:",
        "  - PubMed-sgat: d3",
        "- `run A`, cpu znver4, at commit c2:",
        "  - PubMed-gcsnn: d4",
    ]
