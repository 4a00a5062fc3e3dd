"""benchmarks/samplers_accuracy.py: the summary table says what its ± is."""

from __future__ import annotations

import json

from tests.benchmarks.conftest import BENCH, load


def test_the_table_says_its_std_is_the_population_std_over_the_rows_seeds():
    mod = load("samplers_accuracy")
    summary = json.loads((BENCH / "results" / "samplers_accuracy.json").read_text())
    md = mod.to_markdown(summary)
    assert (
        "- test acc: mean ± population standard deviation (`statistics.pstdev`) over the row's "
        "seeds (column *seeds*: how many)\n" in md
    )
    assert "| seeds | test acc (%) |" in md
