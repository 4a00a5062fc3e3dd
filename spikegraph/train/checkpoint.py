"""Training checkpoints: plain-data files, written atomically, tied to one run's identity.

A checkpoint holds only tensors, dicts, lists and plain scalars, and is read with
``torch.load(..., weights_only=True)``: loading one never runs code from the file. It carries
the *identity* of the run that wrote it (training settings, model, train step, data
fingerprint and whatever the caller adds), so resuming with another configuration is refused
with the fields that differ, rather than silently continuing someone else's run.

It also names the code that wrote it (``written_by``: one :func:`writer` entry per session
that trained it, with the commit and package versions, the date and the epochs it reached).
The code is not part of the identity: a checkpoint written by other code (a bug-fix commit)
is resumed, with a :class:`CheckpointCodeWarning` (:func:`code_warning`), and the result
names the checkpoint's writers (:attr:`~spikegraph.train.TrainResult.resumed_from`).
Checkpoints written before they named their code have no ``written_by``; their code is
unknown.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock, Timeout
from torch import Tensor, nn
from torch_geometric.data import Data

from spikegraph._io import atomic_write
from spikegraph.datasets.cache import update_with_tensor

#: Written into every checkpoint; anything else is not a spikegraph checkpoint.
FORMAT = "spikegraph-checkpoint"
#: Bumped whenever the layout changes; other versions are refused.
VERSION = 2
#: What to do when a checkpoint exists but belongs to another configuration.
ON_MISMATCH = ("error", "new")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: unreadable, corrupt, not a checkpoint."""


class OutputPathError(ValueError):
    """An output file (checkpoint, record) that cannot be written."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint written by a run with another configuration or other data.

    Attributes:
        path: The checkpoint file.
        differences: ``(field, in the checkpoint, now)`` for every field that differs.
    """

    def __init__(self, path: Path, differences: list[tuple[str, Any, Any]]) -> None:
        self.path = path
        self.differences = differences
        # The caller's and the training settings first; the model's module settings (many
        # at once when the model changes) after them.
        differences = sorted(differences, key=lambda d: d[0].startswith("model.settings."))
        shown = "; ".join(
            f"{k}: checkpoint {_short(a)}, now {_short(b)}"
            + (" (the graph's contents differ)" if k == "data" else "")
            for k, a, b in differences[:8]
        )
        more = f"; and {len(differences) - 8} more" if len(differences) > 8 else ""
        super().__init__(
            f"Checkpoint {path} belongs to another run ({shown}{more}). Use the same settings "
            "to resume it, another checkpoint path, or checkpoint_mismatch='new' "
            "(--checkpoint-mismatch new) to start a new run beside it"
        )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def data_fingerprint(data: Data) -> str:
    """SHA-256 of a graph's contents: ``x``, ``edge_index``, ``edge_weight``, ``y`` and masks.

    Dtypes and shapes are hashed with the bytes, so equal bytes under another shape differ.
    """
    h = hashlib.sha256()
    for key in ("x", "edge_index", "edge_weight", "y", "train_mask", "val_mask", "test_mask"):
        value = getattr(data, key, None)
        h.update(key.encode())
        if value is None:
            h.update(b"<none>")
            continue
        t = value.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        update_with_tensor(h, t)  # in chunks: no copy of a products-sized edge index
    return h.hexdigest()


def plain(value: Any) -> Any:
    """``value`` as JSON-like data (dicts, lists, str, int, float, bool, None)."""
    return json.loads(json.dumps(value, sort_keys=True, default=repr))


def identity_hash(identity: dict[str, Any]) -> str:
    """SHA-256 of a run identity (its canonical JSON)."""
    return hashlib.sha256(json.dumps(plain(identity), sort_keys=True).encode()).hexdigest()


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, sub in value.items():
            out.update(_flatten(sub, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


_MISSING = "<absent>"


def differences(saved: dict[str, Any], now: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(dotted field, saved value, current value)`` for every field that differs."""
    a, b = _flatten(plain(saved)), _flatten(plain(now))
    return [
        (key, a.get(key, _MISSING), b.get(key, _MISSING))
        for key in sorted(set(a) | set(b))
        if a.get(key, _MISSING) != b.get(key, _MISSING)
    ]


def run_checkpoint_path(path: str | os.PathLike, seed: int) -> Path:
    """The checkpoint of one seed of a multi-seed run: ``ck.pt`` -> ``ck.seed3.pt``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.seed{seed}{path.suffix or '.pt'}")


def new_run_path(path: str | os.PathLike, digest: str) -> Path:
    """Where a run of another configuration starts: ``ck.pt`` -> ``ck.cfg-1a2b3c4d.pt``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.cfg-{digest[:8]}{path.suffix or '.pt'}")


def check_output_file(path: str | os.PathLike, what: str) -> Path:
    """Make sure ``path`` can be written (creating its folder), before any work is done.

    A probe file is created and removed in the target folder, so permissions, read-only
    file systems and a file standing where a folder should be all fail here.

    Raises:
        OutputPathError: naming ``what`` and the path, if it is a folder or cannot be written.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{what} {path} is a folder; give a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise OutputPathError(
            f"{what} {path} cannot be written ({err.strerror or err}): "
            f"its folder {path.parent} is not a writable folder"
        ) from err
    return path


class CheckpointCodeWarning(UserWarning):
    """A checkpoint is resumed (or its finished result returned) by other code than the code
    that wrote it, or by code that cannot be told apart from it (uncommitted changes, a
    checkpoint that does not name its code): the epochs it holds come from that code."""


def writer(
    code: dict[str, Any] | None, date: str | None, epoch: int, finished: bool
) -> dict[str, Any]:
    """One entry of a checkpoint's ``written_by``: a session that wrote it.

    Args:
        code: Its code identity (:func:`~spikegraph.experiments.tune.code_identity`: the
            commit and the package versions); ``None`` for the epochs of a checkpoint
            written before checkpoints named their code.
        date: When it last wrote the checkpoint (ISO 8601, UTC); ``None`` where unknown.
        epoch: The epochs the checkpoint held after its write.
        finished: Whether the run had finished.
    """
    return plain({"code": code, "date": date, "epoch": epoch, "finished": finished})


def same_code(written_by: list[dict[str, Any]], code: dict[str, Any]) -> bool | None:
    """Whether every session that wrote a checkpoint (its ``written_by``) ran ``code``.

    ``None`` when that cannot be told: the checkpoint names no code (written before
    checkpoints did), or either side's commit has uncommitted changes (two such checkouts of
    one commit may differ). ``False`` when a writer's code differs from ``code``."""
    codes = [w.get("code") for w in written_by]
    if any(c is not None and plain(c) != plain(code) for c in codes):
        return False
    if not codes or any(c is None for c in codes):
        return None
    if any("uncommitted" in str(c.get("commit")) for c in [*codes, code]):
        return None
    return True


def code_warning(
    path: Path, written_by: list[dict[str, Any]], code: dict[str, Any], epoch: int, done: bool
) -> str | None:
    """The warning to give when checkpoint ``path``, written by ``written_by`` and holding
    ``epoch`` epochs (``done``: a finished run), is resumed by ``code``; ``None`` when it was
    written by this very code (:func:`same_code`)."""
    same = same_code(written_by, code)
    if same is True:
        return None
    held = (
        f"its finished result ({epoch} epoch(s)) is returned as it was"
        if done
        else f"its {epoch} epoch(s) are resumed"
    )
    if not written_by or any(w.get("code") is None for w in written_by):
        why = (
            "does not name the code that trained its epochs, or some of them (written before "
            "checkpoints named their code)"
        )
    elif same is None:
        last = written_by[-1]
        why = (
            f"was written on {last.get('date')} at commit {last['code'].get('commit')!r} and "
            f"is resumed at {code.get('commit')!r}: with uncommitted changes, whether its code "
            "is this code cannot be told"
        )
    else:
        other = next(w for w in written_by if plain(w.get("code")) != plain(code))
        diffs = differences(other["code"], code)
        shown = "; ".join(f"{k}: checkpoint {_short(a)}, now {_short(b)}" for k, a, b in diffs[:4])
        more = f"; and {len(diffs) - 4} more" if len(diffs) > 4 else ""
        why = f"was written on {other.get('date')} by other code ({shown}{more})"
    return (
        f"Checkpoint {path} {why}; {held}, so its numbers come from that code. The run's "
        "result names the checkpoint's writers (resumed_from)"
    )


class CheckpointInUseError(CheckpointError):
    """Another running process trains from the same checkpoint file."""


@contextlib.contextmanager
def checkpoint_lock(path: Path) -> Iterator[None]:
    """Hold ``<path>.lock`` for the block, or refuse at once if another process holds it.

    Two runs that write the same checkpoint would interleave their states in it; the second
    is refused instead. On POSIX systems the lock is a ``fcntl`` record lock, which belongs
    to this process alone: mini-batch loader workers forked while it is held do not inherit
    it, and it goes when the process exits or is killed, so a rerun right after a kill finds
    it free. Elsewhere ``filelock`` is used.

    Raises:
        CheckpointInUseError: naming the checkpoint, when another process holds the lock.
    """
    lock_path = f"{path}.lock"
    in_use = CheckpointInUseError(
        f"Checkpoint {path} is in use by another running process (lock {lock_path}): wait "
        "for that run to end, or give this one another checkpoint path"
    )
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        lock = FileLock(lock_path)
        try:
            lock.acquire(timeout=0)
        except Timeout as err:
            raise in_use from err
        try:
            yield
        finally:
            lock.release()
        return
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            raise in_use from err
        yield
    finally:
        os.close(fd)  # releases the record lock


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (plain data only) atomically to ``path``."""
    atomic_write(path, lambda f: torch.save({"format": FORMAT, "version": VERSION, **payload}, f))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``: no code from the file runs.

    Raises:
        CheckpointError: naming the file, if it is unreadable, truncated, holds anything but
            plain data, or is not a spikegraph checkpoint of this version.
    """
    try:
        with warnings.catch_warnings():  # torch's note on a foreign pickle protocol
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            saved = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"Checkpoint {path} holds more than plain tensors and values and was not loaded "
            f"(nothing in it was run): {_refusal(err)}"
        ) from err
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, KeyError) as err:
        raise CheckpointError(
            f"Checkpoint {path} is truncated or corrupt and cannot be read "
            f"({type(err).__name__}: {str(err)[:200]}); delete it to start again"
        ) from err
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a spikegraph checkpoint")
    if saved.get("version") != VERSION:
        raise CheckpointError(
            f"Checkpoint {path} has format version {saved.get('version')!r}; this spikegraph "
            f"reads version {VERSION} only. Delete it to start again"
        )
    for key in ("identity", "finished", "model", "optimizer", "rng", "state"):
        if key not in saved:
            raise CheckpointError(f"Checkpoint {path} is incomplete: it has no {key!r}")
    return saved


def _refusal(err: Exception) -> str:
    """The line of torch's weights-only refusal that says what was refused (its first lines
    are generic advice, including to load with ``weights_only=False``, which we never do)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith(("Unsupported global", "Unsupported operand", "Unsupported class")):
            return ln[:300]
    return (lines[0] if lines else type(err).__name__)[:300]


def _module_generators(model: nn.Module) -> dict[str, dict[str, torch.Generator]]:
    """Private ``torch.Generator`` objects of the model's modules (e.g. a Bernoulli encoder's),
    by module name, attribute and device."""
    out: dict[str, dict[str, torch.Generator]] = {}
    for name, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, torch.Generator):
                out.setdefault(name, {})[f"{attr}"] = value
            elif (
                isinstance(value, dict)
                and value
                and all(isinstance(g, torch.Generator) for g in value.values())
            ):
                for key, g in value.items():
                    out.setdefault(name, {})[f"{attr}@{key}"] = g
    return out


def rng_state(model: nn.Module) -> dict[str, Any]:
    """Every random source training draws from: torch's CPU (and CUDA) generators and the
    model's own generators, as ``uint8`` tensors."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    state["modules"] = {
        name: {attr: g.get_state() for attr, g in gens.items()}
        for name, gens in _module_generators(model).items()
    }
    return state


def set_rng_state(model: nn.Module, state: dict[str, Any]) -> None:
    """Restore :func:`rng_state` (generators the model has not created yet are created;
    CUDA generators are skipped on a machine without CUDA)."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    modules = dict(model.named_modules())
    for name, gens in state.get("modules", {}).items():
        module = modules.get(name)
        if module is None:
            raise KeyError(f"module {name!r}")
        for key, gen_state in gens.items():
            attr, _, device = key.partition("@")
            if not device:
                getattr(module, attr).set_state(gen_state)
                continue
            store = getattr(module, attr)
            dev = torch.device(device)
            if dev.type == "cuda" and not torch.cuda.is_available():
                continue  # a GPU run resumed on the CPU: that generator is never drawn from
            if dev not in store:
                store[dev] = torch.Generator(device=dev)
            store[dev].set_state(
                gen_state.to("cpu") if isinstance(gen_state, Tensor) else gen_state
            )


__all__ = [
    "FORMAT",
    "ON_MISMATCH",
    "VERSION",
    "CheckpointCodeWarning",
    "CheckpointError",
    "CheckpointInUseError",
    "CheckpointMismatchError",
    "OutputPathError",
    "atomic_write",
    "check_output_file",
    "checkpoint_lock",
    "code_warning",
    "data_fingerprint",
    "differences",
    "identity_hash",
    "load_checkpoint",
    "new_run_path",
    "plain",
    "rng_state",
    "run_checkpoint_path",
    "same_code",
    "save_checkpoint",
    "set_rng_state",
    "writer",
]
