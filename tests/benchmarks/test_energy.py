"""benchmarks/energy.py: the table says what its +- is."""

from __future__ import annotations

import json

from tests.benchmarks.conftest import BENCH, load


def test_the_table_says_its_std_is_the_population_std_over_the_seeds():
    mod = load("energy")
    record = json.loads((BENCH / "results" / "energy.json").read_text())
    record["seeds"] = record["seeds"][:3]  # the count follows the seeds
    md = mod.to_markdown(record)
    assert (
        f"Seeds {record['seeds']}; mean +- population standard deviation (`statistics.pstdev`) "
        "over the 3 seeds." in md
    )
