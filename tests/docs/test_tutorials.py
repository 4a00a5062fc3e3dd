"""Every code block of the tutorials (docs/tutorials/*.md) and of the quickstart runs, as a
reader would run it: tests/docs/page_runner.py says how each kind of block is run.

Each page runs in a subprocess, in a fresh empty folder, with ``SPIKEGRAPH_DATA`` passed on
and the checkout first on ``PYTHONPATH`` (its ``spikegraph`` command and package). A page
whose code reads the real datasets says so with the line ``<!-- needs: SPIKEGRAPH_DATA -->``
and is skipped, with the reason, without them. Pages are found by glob: a new tutorial is
covered without an edit here.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.docs import page_runner

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [*sorted((DOCS / "tutorials").glob("*.md")), DOCS / "quickstart.md"]
NEEDS_DATA = "<!-- needs: SPIKEGRAPH_DATA -->"
#: A page that takes longer than this fails: tutorials run small budgets (about 40 s on one
#: core is the aim; the margin is for a loaded machine).
LIMIT_S = 150


def page_id(page: Path) -> str:
    return page.relative_to(DOCS).as_posix()


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_page_runs_as_written(page, tmp_path):
    text = page.read_text(encoding="utf-8")
    runnable = [b for b in page_runner.blocks(text, page.name) if page_runner.KINDS[b.kind]]
    assert runnable, f"{page_id(page)} has no code that runs"
    data = os.environ.get("SPIKEGRAPH_DATA")
    if NEEDS_DATA in text and not (data and Path(data).is_dir()):
        pytest.skip(f"{page_id(page)} reads the real datasets: set SPIKEGRAPH_DATA")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["SPIKEGRAPH_CACHE"] = str(tmp_path / "cache")
    env.setdefault("OMP_NUM_THREADS", "1")
    work = tmp_path / "work"
    work.mkdir()
    start = time.perf_counter()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        done = subprocess.run(
            [sys.executable, str(Path(page_runner.__file__)), str(page)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=LIMIT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"{page_id(page)} ran over {LIMIT_S} s:\n{error.stdout}\n{error.stderr}")
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    assert done.returncode == 0, f"{page_id(page)}:\n{done.stdout}\n{done.stderr}"
    print(f"{page_id(page)}: {elapsed:.1f} s wall, {cpu:.1f} s CPU")


def test_runner_reads_blocks_and_commands():
    text = (
        "# t\n\n```python\nx = 1\n```\n\nsome text\n\n```console\n$ echo a \\\n"
        "    b\nout\n$ true\n```\n\n```text\n$ not run\n```\n"
    )
    found = page_runner.blocks(text)
    assert [(b.kind, b.line) for b in found] == [("python", 4), ("console", 10), ("text", 17)]
    assert page_runner.commands(found[1].code) == ["echo a \\\n    b", "true"]
    with pytest.raises(ValueError, match=r"t:1: a fence of kind 'bash'"):
        page_runner.blocks("```bash\nls\n```\n", "t")
    with pytest.raises(ValueError, match="never closed"):
        page_runner.blocks("```python\nx = 1\n", "t")


def test_runner_stops_at_a_failing_block(tmp_path):
    page = tmp_path / "p.md"
    page.write_text(
        "```python\nopen('a', 'w').write('1')\n```\n\n```console\n$ test -f a\n$ false\n"
        "```\n\n```python\nopen('b', 'w')\n```\n"
    )
    done = subprocess.run(
        [sys.executable, page_runner.__file__, str(page)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "FAILED: exit status 1 of `false` at p.md:6" in done.stdout
    assert (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    page.write_text("text\n\n```python\nx = 1\nraise ValueError('boom')\n```\n")
    done = subprocess.run(
        [sys.executable, page_runner.__file__, str(page)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "FAILED: the python block at p.md:4" in done.stdout
    assert 'p.md", line 5' in done.stderr  # the page's own line numbers
