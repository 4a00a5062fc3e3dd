"""A sampler study's summary: one row per (model, sampler) over the seeds, and the markdown
report (tables of the survey's comparison axes, Liu et al., arXiv 2021, IEEE/CAA Journal of
Automatica Sinica 2022, and the provenance of every number)."""

from __future__ import annotations

import statistics
from typing import Any

from spikegraph.experiments.study.budget import FULL_BATCH

#: The command and commit a study's provenance gives cells written before cells recorded
#: the command and commit that computed them.
UNKNOWN_ORIGIN = "unknown"


def _mean(values: list[float]) -> float:
    return statistics.fmean(values)


def _std(values: list[float]) -> float:
    return statistics.pstdev(values) if len(values) > 1 else 0.0


def _mean_or_none(values: list[Any]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def _gradient_rows(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per budget multiple, the gradient statistics averaged over the seeds."""
    by_multiple: dict[float, list[dict[str, Any]]] = {}
    for c in cells:
        for entry in c["metrics"]["gradient"]["budgets"]:
            by_multiple.setdefault(entry["multiple"], []).append(entry)
    rows = []
    for multiple in sorted(by_multiple):
        entries = by_multiple[multiple]
        rows.append(
            {
                "multiple": multiple,
                "option": entries[0]["option"],
                "values": [e["value"] for e in entries],
                "input_nodes_mean": _mean([e["input_nodes"] for e in entries]),
                "bias_mean": _mean_or_none([e["bias"] for e in entries]),
                "bias_se_mean": _mean_or_none([e["bias_se"] for e in entries]),
                "variance_mean": _mean_or_none([e["variance"] for e in entries]),
                "mse_mean": _mean_or_none([e["mse"] for e in entries]),
            }
        )
    return rows


def _curve(cells: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Validation accuracy per epoch (mean and standard deviation over the seeds) and the
    mean training time so far, over the epochs every seed ran."""
    length = min(len(c["curve"]) for c in cells)
    out: dict[str, list[Any]] = {"epoch": [], "val_mean": [], "val_std": [], "time_mean": []}
    for i in range(length):
        entries = [c["curve"][i] for c in cells]
        vals = [e["val"] for e in entries]
        out["epoch"].append(entries[0]["epoch"])
        out["val_mean"].append(_mean(vals))
        out["val_std"].append(_std(vals))
        out["time_mean"].append(_mean_or_none([e["time"] for e in entries]))
    return out


def summarise(study: dict[str, Any], cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (model, sampler) of ``study``, in its order, over the seeds' ``cells``."""
    rows = []
    names = [FULL_BATCH] * bool(study["full_batch"]) + list(study["samplers"])
    for model in study["models"]:
        for sampler in names:
            mine = sorted(
                (c for c in cells if c["model"] == model and c["sampler"] == sampler),
                key=lambda c: c["seed"],
            )
            if not mine:
                continue
            m = [c["metrics"] for c in mine]
            accs = [x["test_acc"] for x in m]
            times = [x["time_per_epoch"] for x in m]
            batches = [x["batches"] for x in m]
            energy = [x["energy"] for x in m]
            rows.append(
                {
                    "model": model,
                    "sampler": sampler,
                    "family": mine[0]["family"],
                    "seeds": [c["seed"] for c in mine],
                    "test_acc_mean": _mean(accs),
                    "test_acc_std": _std(accs),
                    "val_acc_mean": _mean([x["val_acc"] for x in m]),
                    "best_epoch_mean": _mean([x["best_epoch"] for x in m]),
                    "epochs_run_mean": _mean([x["epochs_run"] for x in m]),
                    "time_per_epoch_mean": _mean(times),
                    "time_per_epoch_std": _std(times),
                    "sampling_share_mean": _mean([x["sampling_share"] for x in m]),
                    "preprocess_time_mean": _mean([x["preprocess_time"] for x in m]),
                    # cells recorded before the flag existed: unknown, not a cache hit
                    "preprocess_cached": any(x.get("preprocess_cached") for x in m),
                    "peak_rss_mb_max": max((x["peak_rss_mb"] or 0.0) for x in m),
                    "batches_per_epoch": batches[0]["batches_per_epoch"],
                    "mode": batches[0]["mode"],
                    "input_nodes_mean": _mean([b["input_nodes"] for b in batches]),
                    "targets_mean": _mean([b["targets"] for b in batches]),
                    "nodes_per_layer_mean": [
                        _mean(list(v)) for v in zip(*(b["nodes_per_layer"] for b in batches))
                    ],
                    "edges_per_layer_mean": [
                        _mean(list(v)) for v in zip(*(b["edges_per_layer"] for b in batches))
                    ],
                    "edges_mean": _mean([b["edges"] for b in batches]),
                    "gradient_weights": m[0]["gradient"]["weights"],
                    "gradient": _gradient_rows(mine),
                    "energy_train_step_pj_mean": _mean([e["train_step_pj"] for e in energy]),
                    "energy_train_epoch_pj_mean": _mean([e["train_epoch_pj"] for e in energy]),
                    "energy_inference_pj_mean": _mean([e["inference_pj"] for e in energy]),
                    "energy_convention": energy[0]["convention"],
                    "energy_profile": energy[0]["profile"],
                    "firing_rates_mean": _rates([x["firing_rates"] for x in m]),
                    "batch_firing_rates_mean": _rates([e["batch_firing_rates"] for e in energy]),
                    "curve": _curve(mine),
                }
            )
    return rows


def _static_input_texts(rows: list[dict[str, Any]]) -> list[str]:
    """The static-input conventions the spiking rows' counts applied, each once, with the
    samplers it applied to when they differ between rows."""
    by_text: dict[str, list[str]] = {}
    for r in rows:
        text = r["energy_convention"].get("static_input_text")
        if text is not None:
            by_text.setdefault(text, []).append(r["sampler"])
    if len(by_text) <= 1:
        return list(by_text) or ["none"]
    return [f"{text} ({', '.join(dict.fromkeys(s))})" for text, s in by_text.items()]


def _rates(per_seed: list[dict[str, float]]) -> dict[str, float]:
    keys = per_seed[0].keys() if per_seed else []
    return {k: _mean([r[k] for r in per_seed if k in r]) for k in keys}


def gradient_at_training_budget(row: dict[str, Any]) -> dict[str, Any]:
    """The row's gradient statistics at multiple 1 (the batch size it trained with)."""
    return next(g for g in row["gradient"] if g["multiple"] == 1.0)


# ----------------------------------------------------------------------------- markdown
def _num(v: float | None, digits: int = 3) -> str:
    if v is None:
        return "-"
    return f"{v:.{digits}g}" if v != 0 else "0"


def _uj(pj: float) -> str:
    return _num(pj / 1e6)


def _machine(machine: dict[str, Any]) -> str:
    return (
        f"{machine.get('platform')}, {machine.get('processor')}, "
        f"{machine.get('cpu_count')} CPUs ({machine.get('torch_threads')} torch threads), "
        f"Python {machine.get('python')}, torch {machine.get('torch')}"
    )


def _machines_line(provenance: dict[str, Any]) -> str:
    """The machine(s) and process count(s) the shown cells record (one of each: one line as
    studies always wrote it)."""
    jobs = provenance.get("jobs")
    jobs = " or ".join(map(str, jobs)) if isinstance(jobs, list) else jobs
    procs = f"{jobs} process(es) computing cells"
    if "machines" not in provenance:
        return f"- machine: {_machine(provenance.get('machine') or {})}; {procs}"
    each = "; ".join(
        f"{_machine(m['machine'])} ({m['cells']} cell{'s' if m['cells'] != 1 else ''})"
        for m in provenance["machines"]
    )
    return f"- machines: {each}; {procs}"


#: What the report says of cells without a recorded command and commit.
_UNRECORDED = "written before cell files recorded them"


def _command_text(command: Any) -> str:
    if command == UNKNOWN_ORIGIN:
        return f"unknown ({_UNRECORDED})"
    return f"`{' '.join(command)}`" if command else "the Python API"


def _origin_lines(provenance: dict[str, Any], source: str) -> list[str]:
    """The command(s) and commit(s) that computed the shown cells: one of each as studies
    always wrote it, else each command and commit with its cell count."""
    if "commands" not in provenance:
        return [
            f"- command: {_command_text(provenance.get('command'))}",
            f"- spikegraph commit: {provenance.get('git_commit')}; source SHA-256 {source}",
        ]
    lines = ["- commands that computed the shown cells:"]
    for entry in provenance["commands"]:
        n = entry["cells"]
        cells = f"{n} cell{'s' if n != 1 else ''}"
        if entry["command"] == UNKNOWN_ORIGIN:
            lines.append(f"    - an unknown command and commit ({cells}, {_UNRECORDED})")
        else:
            lines.append(
                f"    - {_command_text(entry['command'])} at commit {entry['git_commit']} ({cells})"
            )
    lines.append(f"- spikegraph commit: of each command above; source SHA-256 {source}")
    return lines


def seeds_text(rows: list[dict[str, Any]]) -> str:
    """Over how many seeds the rows' means and standard deviations are: ``the 3 seeds``, or
    ``each row's seeds (2 to 3)`` where rows differ."""
    counts = sorted({len(r["seeds"]) for r in rows}) or [0]
    if len(counts) == 1:
        return f"the {counts[0]} seed{'' if counts[0] == 1 else 's'}"
    return f"each row's seeds ({counts[0]} to {counts[-1]})"


def _date_line(provenance: dict[str, Any]) -> str:
    first, last = provenance.get("first_date"), provenance.get("date")
    if first is None or first == last:
        return f"- date: {last}"
    return f"- date: cells computed from {first} to {last}"


def to_markdown(
    study: dict[str, Any],
    rows: list[dict[str, Any]],
    provenance: dict[str, Any],
    files: list[str],
) -> str:
    """The study's report: what ran, where and when, the tables, and the plots."""
    d, b = study["dataset"], study["budget"]
    origin = _origin_lines(provenance, study["code"]["source_sha256"][:16])
    lines = [
        f"# Sampler study: {d['name']} (split={d['split']})",
        "",
        "## What ran",
        "",
        *origin[:-1],
        _machines_line(provenance),
        _date_line(provenance),
        origin[-1],
        f"- data: {d['name']}, {d['num_nodes']:,} nodes, {d['num_edges']:,} edges, "
        f"{d['num_train']:,} training nodes, {d['num_classes']} classes; fingerprint "
        f"{d['fingerprint'][:16]}",
        f"- models: {', '.join(study['models'])}; seeds {study['seeds']}",
        f"- budget: {b['epochs']} epochs (patience {b['patience']}) for every sampler; "
        f"batch size {b['batch_size'] or 'each class default'} (node-wise and layer-wise); "
        "test accuracy of the epoch of best validation accuracy",
        f"- measured: nodes, edges and training-step energy on the first "
        f"{b['measure_batches']} batches of epoch 1; gradient bias and variance from "
        f"{b['gradient_batches']} batches at {b['budget_multiples']} times each sampler's "
        f"batch size, at the {b['gradient_weights']} weights, against the full-batch gradient",
        "",
        "Model options (effective) and training settings:",
        "",
    ]
    for model in study["models"]:
        lines.append(f"- {model}: {study['model_options'][model]}; {study['train_options'][model]}")
    lines += ["", "Sampler options (effective, per model):", ""]
    for model in study["models"]:
        for name, s in study["sampler_options"][model].items():
            bs = "" if s["batch_size"] is None else f", batch size {s['batch_size']}"
            lines.append(f"- {model} / {name} ({s['family']}, {s['mode']}){bs}: {s['options']}")
    lines += [
        "",
        "## Accuracy, time, memory, batches",
        "",
        "test acc: mean ± population standard deviation (`statistics.pstdev`) over "
        f"{seeds_text(rows)}.",
        "",
        "| model | sampler | family | test acc (%) | s/epoch | sampling share | "
        "preprocess (s) | peak RSS (MiB) | batches/epoch | input nodes/batch | "
        "nodes/layer | edges/layer |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        nodes = " / ".join(f"{v:.0f}" for v in r["nodes_per_layer_mean"])
        edges = " / ".join(f"{v:.0f}" for v in r["edges_per_layer_mean"])
        lines.append(
            f"| {r['model']} | {r['sampler']} | {r['family']} | "
            f"{100 * r['test_acc_mean']:.2f} ± {100 * r['test_acc_std']:.2f} | "
            f"{r['time_per_epoch_mean']:.3g} | {100 * r['sampling_share_mean']:.0f} % | "
            f"{r['preprocess_time_mean']:.3g}{' *' if r.get('preprocess_cached') else ''} | "
            f"{r['peak_rss_mb_max']:.0f} | "
            f"{r['batches_per_epoch']} | {r['input_nodes_mean']:.0f} | {nodes} | {edges} |"
        )
    if any(r.get("preprocess_cached") for r in rows):
        lines += [
            "",
            "\\* preprocessing loaded from the sampler's on-disk cache (in at least one of the "
            "cell's runs): the time is the load's, not the method's preprocessing.",
        ]
    lines += [
        "",
        "## Gradient bias and variance against the full-batch gradient",
        "",
        "Relative to the exact gradient's norm: bias ± its standard error (what an unbiased "
        "estimator reads), variance (mean squared deviation of one batch's gradient).",
        "",
        "| model | sampler | multiple | size option | input nodes/batch | bias | variance |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for g in r["gradient"]:
            option = "-" if g["option"] is None else f"{g['option']} = {g['values'][0]}"
            bias = (
                "-"
                if g["bias_mean"] is None
                else (f"{_num(g['bias_mean'])} ± {_num(g['bias_se_mean'], 2)}")
            )
            lines.append(
                f"| {r['model']} | {r['sampler']} | {g['multiple']:g} | {option} | "
                f"{g['input_nodes_mean']:.0f} | {bias} | {_num(g['variance_mean'])} |"
            )
    conv = rows[0]["energy_convention"] if rows else {}
    profile = rows[0]["energy_profile"] if rows else {}
    lines += [
        "",
        "## Energy (cost counters)",
        "",
        f"- profile {profile.get('name')}: {profile.get('mac_pj')} pJ per MAC, "
        f"{profile.get('ac_pj')} pJ per AC ({profile.get('source')})",
        f"- training step: {conv.get('training_step')}; epoch: {conv.get('training_epoch')}; "
        f"inference: {conv.get('inference')}",
        "- spiking models counted event-driven (static input: "
        + "; ".join(_static_input_texts(rows))
        + "); ordinary models dense",
        "",
        "| model | sampler | counted | µJ / training step | µJ / training epoch | "
        "µJ / inference | test acc (%) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['sampler']} | {r['energy_convention']['execution']} | "
            f"{_uj(r['energy_train_step_pj_mean'])} | {_uj(r['energy_train_epoch_pj_mean'])} | "
            f"{_uj(r['energy_inference_pj_mean'])} | {100 * r['test_acc_mean']:.2f} |"
        )
    plots = [f for f in files if f.endswith(".png")]
    if plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{p[:-4]}]({p})" for p in plots]
        lines += ["", "(SVG versions beside them.)"]
    return "\n".join(lines) + "\n"


__all__ = ["gradient_at_training_budget", "seeds_text", "summarise", "to_markdown"]
