"""spikegraph.experiments.study.summary: rows are the seeds' means, and the report shows
what ran and every row."""

from __future__ import annotations

import statistics

import pytest

from spikegraph.cost import describe_static_input
from spikegraph.experiments.study.summary import gradient_at_training_budget, to_markdown


def test_rows_are_means_over_the_seeds(shared_study):
    result, _ = shared_study
    for row in result.rows:
        cells = [
            c for c in result.cells if (c["model"], c["sampler"]) == (row["model"], row["sampler"])
        ]
        m = [c["metrics"] for c in cells]
        accs = [x["test_acc"] for x in m]
        assert row["test_acc_std"] == pytest.approx(statistics.pstdev(accs))
        assert row["time_per_epoch_mean"] == pytest.approx(
            statistics.fmean(x["time_per_epoch"] for x in m)
        )
        assert row["peak_rss_mb_max"] == max(x["peak_rss_mb"] for x in m)
        g = gradient_at_training_budget(row)
        want = statistics.fmean(
            next(e for e in x["gradient"]["budgets"] if e["multiple"] == 1.0)["variance"] for x in m
        )
        assert g["variance_mean"] == pytest.approx(want)
        assert row["energy_inference_pj_mean"] == pytest.approx(
            statistics.fmean(x["energy"]["inference_pj"] for x in m)
        )
        vals = [[e["val"] for e in c["curve"]] for c in cells]
        assert row["curve"]["val_mean"] == pytest.approx([statistics.fmean(v) for v in zip(*vals)])


def test_the_report_names_what_ran_and_shows_every_row(shared_study):
    result, _ = shared_study
    md = to_markdown(result.study, result.rows, {"command": ["spikegraph", "study"]}, [])
    assert md.startswith("# Sampler study: arxiv-like (synthetic, seed 0, scale 0.003)")
    assert "- command: `spikegraph study`" in md
    assert "2 epochs (patience None) for every sampler" in md
    for row in result.rows:
        assert md.count(f"| {row['model']} | {row['sampler']} |") == 2 + len(row["gradient"])
    assert "## Plots" not in md  # no plot files given
    # what the ± is, and over how many seeds (each row's, where rows have different seeds)
    pstdev = "test acc: mean ± population standard deviation (`statistics.pstdev`) over"
    assert f"{pstdev} the 2 seeds.\n" in md
    rows = [dict(result.rows[0], seeds=[0]), *result.rows[1:]]
    md = to_markdown(result.study, rows, {"command": ["spikegraph", "study"]}, [])
    assert f"{pstdev} each row's seeds (1 to 2).\n" in md
    # the synthetic graph's features are real-valued: no static-input convention applied
    assert (
        f"spiking models counted event-driven (static input: {describe_static_input(None)})" in md
    )


def test_the_report_names_each_convention_applied_and_where():
    """Rows whose counts applied different static-input conventions are named with their
    samplers; ordinary rows (no text) are left out."""
    from spikegraph.experiments.study.summary import _static_input_texts

    def row(sampler, text):
        return {"sampler": sampler, "energy_convention": {"static_input_text": text}}

    per_step, none = describe_static_input("per-step"), describe_static_input(None)
    rows = [row("full-batch", per_step), row("graphsage", per_step), row("vrgcn", none)]
    assert _static_input_texts([*rows, row("full-batch", None)]) == [
        f"{per_step} (full-batch, graphsage)",
        f"{none} (vrgcn)",
    ]
    assert _static_input_texts(rows[:2]) == [per_step]


def test_preprocessing_loaded_from_the_cache_is_marked(shared_study):
    # A cache hit times the load, not the method's preprocessing: the cells record which,
    # and the report marks such rows (study preprocessing columns were read as costs).
    result, _ = shared_study
    for row in result.rows:
        cells = [
            c for c in result.cells if (c["model"], c["sampler"]) == (row["model"], row["sampler"])
        ]
        flags = [c["metrics"]["preprocess_cached"] for c in cells]
        assert (
            all(f is None for f in flags)
            if row["sampler"] == "full-batch"
            else all(isinstance(f, bool) for f in flags)
        ), (row["sampler"], flags)
        assert row["preprocess_cached"] == any(flags)
    rows = [dict(r, preprocess_cached=False) for r in result.rows]
    plain = to_markdown(result.study, rows, {"command": ["spikegraph", "study"]}, [])
    assert "on-disk cache" not in plain
    sampled = next(i for i, r in enumerate(rows) if r["sampler"] != "full-batch")
    rows[sampled]["preprocess_cached"] = True
    marked = to_markdown(result.study, rows, {"command": ["spikegraph", "study"]}, [])
    assert "on-disk cache (in at least one of the cell's runs)" in marked
    assert marked.count(" * |") == 1
