"""benchmarks/pyg_example.py: the table says what its +- is."""

from __future__ import annotations

import json

from tests.benchmarks.conftest import BENCH, load


def test_the_table_says_its_std_is_the_population_std_over_the_seeds():
    mod = load("pyg_example")
    record = json.loads((BENCH / "results" / "pyg_example.json").read_text())
    record["seeds"] = [0, 1]  # the count follows the seeds
    md = mod.to_markdown(record)
    assert (
        "seeds [0, 1], mean +- population standard deviation (`statistics.pstdev`) over the 2 "
        "seeds." in md
    )
    assert "| test acc (mean +- population std) |" in md
