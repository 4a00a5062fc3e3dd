"""Which constructor options a registered model takes, read from the signatures.

Used to refuse a misspelt option before anything is built or trained (the CLI, the config
loader, the experiment runners), with the valid names and the closest one as a hint.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any

import torch

from spikegraph.models.registry import MODELS, build_model


def _init_names(cls: type) -> set[str]:
    """Keyword names ``cls(...)`` accepts: its constructor's, and while a constructor takes
    ``**kwargs``, those of the next constructor up the class hierarchy (which receives them),
    up to :class:`torch.nn.Module`."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass in (torch.nn.Module, object):
            break
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return names - {"self"}


def model_option_names(name: str) -> list[str]:
    """Every constructor option model ``name`` of :data:`~spikegraph.models.MODELS` accepts.

    Read from the signatures, never from a second list: the model class's constructor and,
    when it passes other keyword arguments on to its layers (``**kwargs``), the layer class's
    (found on a model built with the registry's defaults) and those it passes them on to
    (e.g. PyG's ``MessagePassing``). ``in_channels`` and ``out_channels`` are left out (the
    data sets them).

    Raises:
        ValueError: for an unknown model name.
    """
    if name not in MODELS:
        raise ValueError(f"Unknown model {name!r}; expected one of {list(MODELS)}")
    cls = MODELS[name][0]
    names = _init_names(cls)
    takes_more = any(
        p.kind == p.VAR_KEYWORD
        for klass in cls.__mro__
        if "__init__" in klass.__dict__ and klass not in (torch.nn.Module, object)
        for p in inspect.signature(klass.__dict__["__init__"]).parameters.values()
    )
    if takes_more:
        with torch.random.fork_rng(devices=[]):  # building draws initial weights
            net = build_model(name, 4, 2)
        convs = getattr(net, "convs", None)
        if isinstance(convs, torch.nn.ModuleList) and len(convs):
            names |= _init_names(type(convs[0]))
            names |= set(getattr(convs[0], "neuron_option_names", tuple)())
    return sorted(names - {"in_channels", "out_channels"}, key=str.lower)


def check_model_option_names(name: str, options: dict[str, Any] | None) -> None:
    """Refuse options model ``name`` does not take, listing those it does
    (:func:`model_option_names`), with the closest names as a hint. An option missing from
    the signatures but taken by the model all the same (read from ``**kwargs``) passes.

    Raises:
        ValueError: naming the unknown options and the valid ones.
    """
    if not options or name not in MODELS:  # an unknown model fails with its own message
        return
    valid = model_option_names(name)
    unknown = sorted(k for k in options if k not in valid)
    if not unknown:
        return
    # A model may also take options its layer factory reads from ``**kwargs`` (PyG's
    # ``GAT`` pops ``v2``): the model itself has the last word.
    try:
        with torch.random.fork_rng(devices=[]):
            build_model(name, 4, 2, **{k: options[k] for k in unknown})
    except TypeError as err:
        if "unexpected keyword argument" not in str(err):
            return  # a bad value: building the real model reports it
    except Exception:  # any other complaint is about values: the real build reports it
        return
    else:
        return
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, valid, n=1)
        if close:
            hints.append(f"{key!r}: did you mean {close[0]!r}?")
    hint = f" ({'; '.join(hints)})" if hints else ""
    raise ValueError(
        f"Unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
        f"for model {name!r} ({MODELS[name][0].__name__}){hint}; valid options: "
        f"{', '.join(valid)}"
    )


__all__ = ["check_model_option_names", "model_option_names"]
