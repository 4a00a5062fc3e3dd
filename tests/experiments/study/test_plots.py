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
