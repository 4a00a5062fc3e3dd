"""How accurate GraphSAINT's estimated normalisations are, per ``sample_coverage``.

GraphSAINT (Zeng et al., ICLR 2020, Sec. 3.2 and Algorithm 2) removes the bias of a sampled
subgraph with the normalisations ``alpha_{u,v} = P_{u,v} / P_v`` and ``lambda_v = P_v``. The
random-walk sampler has no closed form for them: it estimates them from counts over
pre-sampled subgraphs, drawn until every node was drawn ``sample_coverage`` times on average
(the paper's code: 50; spikegraph's default: ``spikegraph.samplers.saint.DEFAULT_COVERAGE``).

For each sampler, dataset, coverage and seed, this script pre-samples (``norms="estimate"``,
the sampler's registered default options otherwise) and reports

- **the stated errors**: ``sampler.norm_errors()``, the relative standard errors of every
  estimated ``1 / alpha`` (one per edge) and ``1 / lambda`` (one per node), from the
  binomial counts: their median and maximum over the finite ones, and how many are infinite
  (a count of zero: an edge or node no pre-sampled subgraph held);
- **the actual errors** against a reference: the closed-form normalisations
  (``norms="exact"``) of the node and edge samplers, and for the random-walk sampler, which
  has none, an estimate at a coverage far above the rows' (``--reference-coverage``, 20000)
  from other draws. ``|estimate / reference - 1|``, median and maximum, and the root mean
  square of ``(estimate / reference - 1) / se`` (``z_rms``; ``se``: the stated error and the
  reference's, combined) over the finite, nonzero stated errors: about 1 when the stated
  errors are honest;
- the number of pre-sampled subgraphs and the pre-sampling time (seconds, this machine).

The docs quote it (``docs/samplers.md``) for the choice of the default coverage.

    python benchmarks/saint_norms.py                   # PubMed, coverages 50 and 500
    python benchmarks/saint_norms.py --update-results  # the same, replacing results/saint_norms.*
    python benchmarks/saint_norms.py --quick           # Cora, tiny coverages, no files
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    add_output_options,
    check_names,
    check_rows_kept,
    command_line,
    output_dir,
    provenance,
    provenance_md,
    publish,
)

from spikegraph.datasets import load_dataset
from spikegraph.samplers import SAMPLERS

STEM = "saint_norms"
SAMPLER_NAMES = ("graphsaint-rw", "graphsaint-node", "graphsaint-edge")


def spread(values: torch.Tensor) -> dict:
    """Median and maximum of the finite ``values``, and how many are not finite
    (``infinite``: a stated error of a count of zero, or an actual error against a zero
    reference, a node or edge the reference never drew)."""
    finite = values[torch.isfinite(values)]
    return {
        "median": float(finite.median()) if finite.numel() else None,
        "max": float(finite.max()) if finite.numel() else None,
        "infinite": int(values.numel() - finite.numel()),
    }


#: Seed offset of the reference estimate (independent of the measured runs' draws).
REFERENCE_SEED_OFFSET = 1000


def _options(name: str) -> dict:
    """The sampler's registered default options, less the coverage each row sets."""
    cls = SAMPLERS[name]
    return {k: v for k, v in cls.default_options.items() if k != "sample_coverage"}


def reference(data, name: str, seed: int, coverage: int) -> tuple[Any, str]:
    """What the estimates are compared with: the closed-form normalisations where the
    sampler has them, else an estimate at ``coverage`` (much more than any row's) from
    other draws (seed ``seed + REFERENCE_SEED_OFFSET``); with how it was made, in words."""
    cls = SAMPLERS[name]
    if cls.closed_form:
        return cls(data, **_options(name), norms="exact", seed=seed), "exact"
    ref = cls(data, **_options(name), norms="estimate", sample_coverage=coverage,
              seed=seed + REFERENCE_SEED_OFFSET)  # fmt: skip
    return ref, reference_made(name, seed, coverage)


def reference_made(name: str, seed: int, coverage: int) -> str:
    """How :func:`reference` makes the reference of ``name``'s rows of ``seed``, in words."""
    if SAMPLERS[name].closed_form:
        return "exact"
    return f"estimated at coverage {coverage} (seed {seed + REFERENCE_SEED_OFFSET})"


def row_name(dataset: str, sampler: str, coverage: int, seed: int) -> str:
    return f"{dataset} {sampler} coverage {coverage} seed {seed}"


def planned_rows(args: argparse.Namespace) -> dict[str, dict]:
    """The rows a run writes, each with the settings it is measured with (the sampler's
    options and the reference it is compared with)."""
    return {
        row_name(dataset, name, coverage, seed): {
            "options": _options(name),
            "reference": reference_made(name, seed, args.reference_coverage),
        }
        for dataset in args.datasets
        for name in args.samplers
        for seed in args.seeds
        for coverage in args.coverages
    }


def rows_in(record: dict) -> dict[str, dict]:
    """The rows of a results file, as :func:`planned_rows` gives them."""
    return {
        row_name(r["dataset"], r["sampler"], r["coverage"], r["seed"]): {
            "options": r["options"],
            "reference": r["reference"],
        }
        for r in record["rows"]
    }


def measure(data, name: str, coverage: int, seed: int, ref: Any, ref_made: str) -> dict:
    """One sampler's estimated normalisations at ``coverage``: their stated errors, their
    actual errors against ``ref`` (:func:`reference`), subgraphs drawn and seconds."""
    cls, options = SAMPLERS[name], _options(name)
    start = time.perf_counter()
    sampler = cls(data, **options, norms="estimate", sample_coverage=coverage, seed=seed)
    seconds = time.perf_counter() - start
    row = {
        "sampler": name,
        "options": options,
        "coverage": coverage,
        "seed": seed,
        "subgraphs": int(sampler.norms.num_samples),
        "seconds": seconds,
        "reference": ref_made,
    }
    for key, stated, ref_stated in zip(("edge", "node"), sampler.norm_errors(), ref.norm_errors()):
        got = getattr(sampler.norms, f"{key}_norm").double()
        actual = got / getattr(ref.norms, f"{key}_norm").double() - 1
        row[f"stated_{key}"] = spread(stated)
        row[f"actual_{key}"] = spread(actual.abs())
        # honest stated errors: the actual error over its standard error (the estimate's and
        # the reference's, independent) has unit spread, over the finite, nonzero ones with a
        # finite actual error
        keep = torch.isfinite(stated) & (stated > 0) & torch.isfinite(actual)
        z = actual[keep] / (stated[keep] ** 2 + ref_stated[keep] ** 2).sqrt()
        row[f"z_rms_{key}"] = float(z.pow(2).mean().sqrt())
    return row


def _pct(stats: dict, key: str) -> str:
    return "" if stats[key] is None else f"{100 * stats[key]:.1f}"


def to_markdown(record: dict) -> str:
    lines = [
        "# GraphSAINT's estimated normalisations: relative errors per sample_coverage",
        "",
        provenance_md(record["provenance"]),
        "Errors of the estimated `1 / alpha` (edges) and `1 / lambda` (nodes), in %: "
        "*stated*, `norm_errors()` (relative standard errors from the binomial counts; "
        "median and max over the finite ones, `inf`: how many are infinite, a count of "
        "zero); *actual*, `|estimate / reference - 1|` against the row's reference (the "
        "closed form where the sampler has one, else an estimate at a far higher coverage "
        "from other draws), and *z rms*, the root mean square of the actual signed error "
        "over its standard error (the stated one and the reference's, combined): about 1 "
        "when the stated errors are honest. Each sampler with its registered default "
        "options otherwise; s: the pre-sampling's seconds.",
        "",
        "| dataset | sampler | coverage | seed | subgraphs | s | stated edge median | "
        "stated edge max | edge inf | stated node median | stated node max | node inf | "
        "actual edge median | actual edge max | actual node median | actual node max | "
        "z rms edge | z rms node | reference |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in record["rows"]:
        se, sn, ae, an = r["stated_edge"], r["stated_node"], r["actual_edge"], r["actual_node"]
        lines.append(
            f"| {r['dataset']} | {r['sampler']} | {r['coverage']} | {r['seed']} | "
            f"{r['subgraphs']} | {r['seconds']:.2f} | {_pct(se, 'median')} | "
            f"{_pct(se, 'max')} | {se['infinite']} | {_pct(sn, 'median')} | "
            f"{_pct(sn, 'max')} | {sn['infinite']} | {_pct(ae, 'median')} | {_pct(ae, 'max')} | "
            f"{_pct(an, 'median')} | {_pct(an, 'max')} | {r['z_rms_edge']:.2f} | "
            f"{r['z_rms_node']:.2f} | {r['reference']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=["PubMed"])
    p.add_argument("--samplers", nargs="+", default=list(SAMPLER_NAMES))
    p.add_argument("--coverages", type=int, nargs="+", default=[50, 500])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--reference-coverage", type=int, default=20000,
                   help="coverage of the reference estimate of a sampler without closed-form "
                   "norms (the random-walk sampler); above every --coverages")  # fmt: skip
    p.add_argument("--root", default=None, help="data root (default: $SPIKEGRAPH_DATA)")
    p.add_argument("--quick", action="store_true", help="Cora, coverages 2 and 5, no files")
    add_output_options(p)
    args = p.parse_args(argv)
    args.samplers = check_names(p, "--samplers", args.samplers, SAMPLER_NAMES)
    if args.quick:
        args.datasets, args.coverages, args.reference_coverage = ["Cora"], [2, 5], 50
    bad = [c for c in args.coverages if c < 1]
    if bad:
        p.error(f"--coverages must be >= 1, got {bad}")
    if args.reference_coverage <= max(args.coverages):
        p.error(f"--reference-coverage ({args.reference_coverage}) must be above every "
                f"--coverages ({max(args.coverages)})")  # fmt: skip
    out = output_dir(p, args)
    check_rows_kept(p, out, STEM, planned_rows(args), rows_in)
    # A low coverage makes the sampler warn about its own counts: that is what is measured.
    logging.getLogger("spikegraph.samplers.saint").setLevel(logging.ERROR)
    record = {
        "provenance": provenance(
            command_line("saint_norms.py", sys.argv[1:] if argv is None else argv)
        ),
        "rows": [],
    }
    for dataset in args.datasets:
        data, _ = load_dataset(dataset, root=args.root)
        for name in args.samplers:
            for seed in args.seeds:
                ref, ref_made = reference(data, name, seed, args.reference_coverage)
                for coverage in args.coverages:
                    row = {"dataset": dataset, **measure(data, name, coverage, seed, ref, ref_made)}
                    record["rows"].append(row)
                    print(
                        f"{dataset} {name} coverage {coverage} seed {seed}: stated edge errors "
                        f"median {_pct(row['stated_edge'], 'median')}% max "
                        f"{_pct(row['stated_edge'], 'max')}%, actual over stated (rms) "
                        f"{row['z_rms_edge']:.2f} ({row['subgraphs']} subgraphs, "
                        f"{row['seconds']:.2f} s)",
                        flush=True,
                    )
    publish(STEM, record, to_markdown(record), out)
    return record


if __name__ == "__main__":
    main()
