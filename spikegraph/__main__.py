"""``python -m spikegraph``: the ``spikegraph`` command (also what ``torchrun -m spikegraph``
starts in every process)."""

from spikegraph.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
