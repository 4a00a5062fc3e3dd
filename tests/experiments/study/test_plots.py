"""spikegraph.experiments.study.plots: every plot exists as a valid PNG and SVG and shows
every sampler; without matplotlib the error says how to install it (that importing the
package does not import matplotlib is checked in tests/test_packaging.py, in the same fresh
interpreter as scikit-learn's absence)."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

import pytest

from spikegraph.experiments.study import plots

matplotlib_image = pytest.importorskip("matplotlib.image")


def test_every_plot_is_a_valid_png_and_svg(shared_study):
    result, out = shared_study
    names = {f"plots/{name}.{fmt}" for name in plots.PLOTS for fmt in plots.FORMATS}
    assert names <= set(result.files)
    for name in plots.PLOTS:
        image = matplotlib_image.imread(out / "plots" / f"{name}.png")
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 400
        assert image.shape[2] in (3, 4) and image.std() > 0  # not a blank canvas
        svg = (out / "plots" / f"{name}.svg").read_text()
        assert ET.fromstring(svg).tag.endswith("svg")
        for sampler in ("graphsage", "cluster-gcn"):  # every sampler is drawn (legend)
            assert sampler in svg, (name, sampler)


def test_without_matplotlib_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'spikegraph\[plot\]'"):
        plots.require_matplotlib()


def test_the_accuracy_axis_says_its_std_is_the_population_std_over_how_many_seeds():
    def row(sampler, seeds):
        return {"model": "gcn", "sampler": sampler, "seeds": seeds, "test_acc_mean": 0.8,
                "test_acc_std": 0.01, "time_per_epoch_mean": 0.1}  # fmt: skip

    def label(rows):
        colours, markers = plots._styles(rows)
        fig = plots._scatter(rows, "time_per_epoch_mean", "s", "t", colours, markers)
        return fig.axes[0].get_ylabel()

    same = [row("full-batch", [0, 1, 2]), row("graphsage", [0, 1, 2])]
    assert label(same) == "test accuracy (%)\nmean ± population std over the 3 seeds"
    other = [row("full-batch", [0, 1, 2]), row("graphsage", [0])]
    assert label(other).endswith("mean ± population std over each row's seeds (1 to 3)")
