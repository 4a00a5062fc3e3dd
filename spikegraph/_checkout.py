"""``spikegraph.samplers`` from a source checkout, where the sampler zoo sits beside the package.

The repository keeps the sampler zoo in its top-level ``samplers/`` folder and installs it
as ``spikegraph.samplers``: a wheel holds it as ``spikegraph/samplers/`` (the package-dir
mapping in ``pyproject.toml``) and an editable install maps it with setuptools' own finder.
A checkout used without an install (its root on ``sys.path``, as the tests and the
benchmarks do) has no ``spikegraph/samplers/`` folder: the finder here loads
``<checkout>/samplers`` as ``spikegraph.samplers`` there, so the zoo has one name however
spikegraph is installed, and always comes from the tree ``spikegraph`` itself comes from.
"""

from __future__ import annotations

import sys
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from importlib.util import spec_from_file_location
from pathlib import Path

#: The installed name of the sampler zoo.
SAMPLERS = "spikegraph.samplers"


class CheckoutSamplersFinder(MetaPathFinder):
    """Finds ``spikegraph.samplers`` (only that name) in a checkout's ``samplers/`` folder.

    Its submodules need no finder: the package's ``__path__`` is that folder.

    Args:
        folder: The checkout's ``samplers/`` folder.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def find_spec(self, fullname: str, path=None, target=None) -> ModuleSpec | None:
        """The spec of ``spikegraph.samplers`` from :attr:`folder`; ``None`` for other names."""
        if fullname != SAMPLERS:
            return None
        return spec_from_file_location(
            SAMPLERS, self.folder / "__init__.py", submodule_search_locations=[str(self.folder)]
        )


def samplers_folder(package_dir: Path) -> Path | None:
    """The checkout's ``samplers/`` folder when ``package_dir`` (the folder of ``spikegraph``)
    is in a checkout; ``None`` when the zoo is inside the package (an installed wheel)."""
    if (package_dir / "samplers").exists():
        return None
    folder = package_dir.parent / "samplers"
    return folder if (folder / "__init__.py").is_file() else None


def install(package_dir: Path) -> None:
    """Put a :class:`CheckoutSamplersFinder` first on ``sys.meta_path`` if ``package_dir`` is
    in a checkout (once per folder). First, so that it wins over an editable install of
    another checkout: ``spikegraph.samplers`` comes from beside the ``spikegraph`` imported."""
    folder = samplers_folder(package_dir)
    if folder is None:
        return
    if any(isinstance(f, CheckoutSamplersFinder) and f.folder == folder for f in sys.meta_path):
        return
    sys.meta_path.insert(0, CheckoutSamplersFinder(folder))
