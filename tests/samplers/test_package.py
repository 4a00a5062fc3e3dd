"""The sampler zoo is ``spikegraph.samplers``: one name, no top-level ``samplers`` to collide
with a user's own module, and it still imports nothing else from spikegraph."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str, cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -c code`` in ``cwd`` (first on ``sys.path``) with the checkout after it."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=check,
    )


def test_samplers_import_nothing_else_from_spikegraph(tmp_path):
    """Beyond the parent package's own ``__init__`` (needed for any subpackage); and a failed
    attempt at the old name first changes nothing."""
    code = (
        "import sys, spikegraph\n"
        "parent = set(sys.modules)\n"
        "try:\n"
        "    import samplers\n"
        "except ModuleNotFoundError as e:\n"
        "    assert e.name == 'samplers', e.name\n"
        "else:\n"
        "    raise AssertionError('the old name imported')\n"
        "import spikegraph.samplers, spikegraph.samplers.pyg\n"
        "new = set(sys.modules) - parent\n"
        "bad = [m for m in new if m.split('.')[0] in ('spikegraph', 'samplers')\n"
        "       and not m.startswith('spikegraph.samplers')]\n"
        "assert not bad, bad\n"
        "assert 'spikegraph.samplers.pyg' in new\n"
    )
    run(code, tmp_path)


def test_a_users_own_samplers_module_does_not_break_spikegraph(tmp_path):
    """Its ``samplers.py`` comes first on ``sys.path``; the zoo is loaded once, as
    ``spikegraph.samplers``, and the classes the trainer checks against are the ones users
    import."""
    (tmp_path / "samplers.py").write_text("raise RuntimeError('the user module was imported')\n")
    code = (
        "import sys\n"
        "import spikegraph.train, spikegraph.cli\n"
        "import spikegraph.train.inference as inf, spikegraph.train.minibatch as mb\n"
        "from spikegraph.samplers import GraphSAGESampler\n"
        "import spikegraph.samplers as zoo\n"
        "assert mb.Sampler is zoo.Sampler and mb.Batch is zoo.Batch, (mb.Sampler, zoo.Sampler)\n"
        "assert inf.GraphSAGESampler is GraphSAGESampler\n"
        "assert GraphSAGESampler.__module__ == 'spikegraph.samplers.graphsage'\n"
        "top = sorted(m for m in sys.modules if m.split('.')[0] == 'samplers')\n"
        "assert not top, top\n"
        "print(zoo.__file__)\n"
    )
    out = run(code, tmp_path, check=False)
    assert out.returncode == 0, out.stderr
    # from a checkout the package is the repository's top-level folder
    assert Path(out.stdout.strip()) == ROOT / "samplers" / "__init__.py"
    # and the user's module is theirs
    out = run("import samplers", tmp_path, check=False)
    assert "the user module was imported" in out.stderr


def test_the_old_top_level_name_fails_clearly(tmp_path):
    """From a checkout (its root on ``sys.path``) ``samplers`` says what to import instead."""
    code = (
        "import sys\n"
        "for line in ('import samplers', 'from samplers import GraphSAGESampler',\n"
        "             'import samplers.base', 'from samplers.batch import Batch'):\n"
        "    try:\n"
        "        exec(line)\n"
        "    except ModuleNotFoundError as e:\n"
        "        assert e.name == 'samplers', (line, e.name)\n"
        "        print(e)\n"
        "    else:\n"
        "        raise AssertionError(line + ': imported')\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'samplers']\n"
    )
    messages = run(code, tmp_path).stdout.strip().splitlines()
    assert len(messages) == 4
    for message in messages:
        assert "'samplers'" in message and "from spikegraph.samplers import" in message, message
