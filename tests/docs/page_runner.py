"""Run the code of a documentation page as a reader would, top to bottom.

``python tests/docs/page_runner.py PAGE`` runs, in the current folder and in page order:

- every ```` ```python ```` block, all in one namespace (a later block sees what an earlier
  one defined);
- every ```` ```console ```` block's commands: lines starting with ``$ `` (a command continues
  on the next line while a line ends with ``\\``), each through the shell; the block's other
  lines are the output a reader sees, not checked;
- ```` ```text ```` blocks are output or commands the page says are not run: skipped.

Any other fence is an error, so that no code on a tutorial page goes unrun by accident. A
failing block stops the run with the page's line number. Used by
``tests/docs/test_tutorials.py``, which gives each page a fresh folder.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

#: The fences a tutorial may use, and whether their contents run.
KINDS = {"python": True, "console": True, "text": False}

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+)\s*(?P<info>[^`]*)$")


@dataclass
class Block:
    """One fenced block: its language, first line of code (1-based) and code."""

    kind: str
    line: int
    code: str


def blocks(text: str, name: str = "page") -> list[Block]:
    """The fenced blocks of a Markdown page, in order.

    Args:
        text: The page.
        name: The page's name, for error messages.

    Returns:
        The blocks.

    Raises:
        ValueError: A fence of another language, or one left open.
    """
    lines = text.splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        kind = match["info"].strip().split(" ")[0]
        if kind not in KINDS:
            raise ValueError(
                f"{name}:{i + 1}: a fence of kind {kind!r}; tutorial pages use "
                f"{sorted(KINDS)} (```text for output and for what is not run)"
            )
        indent, fence = len(match["indent"]), match["fence"]
        start = i + 1
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].strip() != fence:
            body.append(lines[i][indent:])
            i += 1
        if i == len(lines):
            raise ValueError(f"{name}:{start}: a ``` fence that is never closed")
        found.append(Block(kind, start + 1, "\n".join(body) + "\n"))
        i += 1
    return found


def commands(code: str) -> list[str]:
    """The ``$ `` commands of a console block (continuation lines joined)."""
    found: list[str] = []
    current: list[str] | None = None
    for line in code.splitlines():
        if current is not None:
            current.append(line)
        elif line.startswith("$ "):
            current = [line[2:]]
        else:
            continue
        if not line.rstrip().endswith("\\"):
            found.append("\n".join(current))
            current = None
    if current is not None:
        found.append("\n".join(current))
    return found


def run(page: Path) -> int:
    """Run a page's blocks; 0 when every one succeeded, 1 at the first failure."""
    sys.stdout.reconfigure(line_buffering=True)  # in order with the commands' output
    namespace: dict = {"__name__": "__main__"}
    for block in blocks(page.read_text(encoding="utf-8"), page.name):
        if not KINDS[block.kind]:
            continue
        start = time.perf_counter()
        where = f"{page.name}:{block.line}"
        if block.kind == "python":
            print(f"--- {where}: python", flush=True)
            # blank lines before the block keep its line numbers those of the page
            code = compile("\n" * (block.line - 1) + block.code, str(page), "exec")
            try:
                exec(code, namespace)
            except BaseException:
                traceback.print_exc()
                print(f"FAILED: the python block at {where}", flush=True)
                return 1
        else:
            for command in commands(block.code):
                print(f"--- {where}: $ {command}", flush=True)
                done = subprocess.run(command, shell=True, check=False)
                if done.returncode != 0:
                    print(
                        f"FAILED: exit status {done.returncode} of `{command}` at {where}",
                        flush=True,
                    )
                    return 1
        print(f"--- {where}: {time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]).resolve()))
