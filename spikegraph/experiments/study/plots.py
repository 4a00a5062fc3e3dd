"""The plots of a sampler study (matplotlib, the ``plot`` extra; imported only here, when
plots are drawn), each as PNG and SVG: accuracy against time per epoch, convergence curves
against epochs and wall time, gradient variance against batch size, energy against
accuracy. One colour per sampler throughout, one marker per model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from spikegraph.experiments.study.budget import FULL_BATCH
from spikegraph.experiments.study.summary import seeds_text

#: ``name -> title`` of every plot :func:`write_plots` draws.
PLOTS = {
    "accuracy_vs_time": "Test accuracy against training time per epoch",
    "convergence": "Validation accuracy against epochs and training time",
    "variance_vs_budget": "Gradient variance against batch size",
    "energy_vs_accuracy": "Test accuracy against training energy per epoch",
}
FORMATS = ("png", "svg")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def require_matplotlib() -> None:
    """Raise a clear error when matplotlib is missing.

    Raises:
        ModuleNotFoundError: saying how to install it (or how to go without plots).
    """
    try:
        import matplotlib  # noqa: F401
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(
            "the study's plots need matplotlib, which is not installed: pip install "
            "'spikegraph[plot]' (or run without plots: plots=False, --no-plots)",
            name="matplotlib",
        ) from err


def _styles(rows: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, str]]:
    from matplotlib import colormaps

    samplers = list(dict.fromkeys(r["sampler"] for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    cmap = colormaps["tab20"]  # its dark colours first, then the light ones
    order = [*range(0, 20, 2), *range(1, 20, 2)]
    colours = {s: cmap(order[i % 20]) for i, s in enumerate(samplers)}
    colours[FULL_BATCH] = "black"
    return colours, {m: MARKERS[i % len(MARKERS)] for i, m in enumerate(models)}


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _save(fig, out: Path, name: str) -> list[Path]:
    paths = []
    for fmt in FORMATS:
        path = out / f"{name}.{fmt}"
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        metadata = {"Date": None} if fmt == "svg" else {}
        fig.savefig(tmp, format=fmt, dpi=120, metadata=metadata)
        os.replace(tmp, path)  # a reader sees the old plot or the new one
        paths.append(path)
    return paths


def _legend(fig, ax, rows, colours, markers) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=colours[s], marker="o", linestyle="", label=s)
        for s in dict.fromkeys(r["sampler"] for r in rows)
    ] + [
        Line2D([], [], color="grey", marker=markers[m], linestyle="", label=m)
        for m in dict.fromkeys(r["model"] for r in rows)
    ]
    ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))


def _scatter(rows, x_key, x_label, title, colours, markers, scale=1.0):
    fig = _figure(8, 4.5)
    ax = fig.add_subplot()
    for r in rows:
        ax.errorbar(
            r[x_key] * scale,
            100 * r["test_acc_mean"],
            yerr=100 * r["test_acc_std"],
            color=colours[r["sampler"]],
            marker=markers[r["model"]],
            linestyle="",
            capsize=2,
        )
    if all(r[x_key] > 0 for r in rows):
        ax.set_xscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylabel(f"test accuracy (%)\nmean ± population std over {seeds_text(rows)}")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    _legend(fig, ax, rows, colours, markers)
    return fig


def _convergence(rows, colours, title):
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig = _figure(10, 3.2 * len(models))
    axes = fig.subplots(len(models), 2, squeeze=False)
    for i, model in enumerate(models):
        for r in (r for r in rows if r["model"] == model):
            c = r["curve"]
            val = [100 * v for v in c["val_mean"]]
            style = {"color": colours[r["sampler"]], "label": r["sampler"], "linewidth": 1.2}
            axes[i][0].plot(c["epoch"], val, **style)
            times = [(t, v) for t, v in zip(c["time_mean"], val) if t is not None]
            if times:
                axes[i][1].plot([t for t, _ in times], [v for _, v in times], **style)
        axes[i][0].set_xlabel("epoch")
        axes[i][1].set_xlabel("training time (s, validation scoring excluded)")
        axes[i][1].set_xscale("log")
        for ax in axes[i]:
            ax.set_ylabel(f"{model}: val acc (%)")
            ax.grid(alpha=0.3)
        axes[i][1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle(title, fontsize=10)
    return fig


def _variance(rows, colours, title):
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig = _figure(5.5 * len(models) + 2, 4)
    axes = fig.subplots(1, len(models), squeeze=False)[0]
    for ax, model in zip(axes, models):
        for r in (r for r in rows if r["model"] == model and r["sampler"] != FULL_BATCH):
            points = [
                (g["input_nodes_mean"], g["variance_mean"])
                for g in r["gradient"]
                if g["variance_mean"] is not None and g["variance_mean"] > 0
            ]
            if points:
                ax.plot(
                    [p[0] for p in points],
                    [p[1] for p in points],
                    color=colours[r["sampler"]],
                    marker="o",
                    label=r["sampler"],
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("input nodes per batch")
        ax.set_ylabel(f"{model}: gradient variance / ‖full-batch gradient‖²")
        ax.grid(alpha=0.3, which="both")
    axes[-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle(f"{title} (full-batch: 0)", fontsize=10)
    return fig


def write_plots(rows: list[dict[str, Any]], study: dict[str, Any], out: Path) -> list[Path]:
    """Draw :data:`PLOTS` of the study's ``rows`` into ``out/plots/`` as PNG and SVG.

    Returns:
        The files written.
    """
    require_matplotlib()
    folder = Path(out) / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    colours, markers = _styles(rows)
    where = f" ({study['dataset']['name']}, split={study['dataset']['split']})"
    figures = {
        "accuracy_vs_time": _scatter(
            rows,
            "time_per_epoch_mean",
            "training time per epoch (s)",
            PLOTS["accuracy_vs_time"] + where,
            colours,
            markers,
        ),
        "convergence": _convergence(rows, colours, PLOTS["convergence"] + where),
        "variance_vs_budget": _variance(rows, colours, PLOTS["variance_vs_budget"] + where),
        "energy_vs_accuracy": _scatter(
            rows,
            "energy_train_epoch_pj_mean",
            "training energy per epoch (µJ, forward passes, cost counters)",
            PLOTS["energy_vs_accuracy"] + where,
            colours,
            markers,
            scale=1e-6,
        ),
    }
    paths = []
    for name, fig in figures.items():
        paths += _save(fig, folder, name)
    return paths


__all__ = ["FORMATS", "PLOTS", "require_matplotlib", "write_plots"]
