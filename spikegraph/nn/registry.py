"""One registry per extension point: name -> class, filled by the classes themselves.

A base class of an extension point (neurons, surrogates, encoders, normalisations, readouts)
derives from :class:`Registered` and names its :class:`Registry`; a subclass registers with a
name in its class statement (``class PLIF(SpikingNeuron, name="plif")``). Layers, models and
the CLI read the names and the classes (with their defaults: the constructors') from the
registry, so that nothing else lists them.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Registry(dict):
    """Name -> class of one extension point (``kind``: ``"neuron"``, ``"encoder"``, ...)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def resolve(self, name: Any) -> type:
        """The class registered as ``name``.

        Raises:
            ValueError: for a name that is not registered, listing those that are.
        """
        if not isinstance(name, str) or name not in self:
            raise ValueError(f"Unknown {self.kind} {name!r}; expected one of {list(self)}")
        return self[name]


class Registered:
    """Mixin: a subclass with ``name="..."`` in its class statement registers itself in the
    base class's :attr:`registry` and gets that :attr:`name`."""

    #: The registry of the extension point (set by its base class).
    registry: ClassVar[Registry]
    #: Registered name (``None``: not registered; a subclass without a name keeps its
    #: parent's).
    name: ClassVar[str | None] = None

    def __init_subclass__(cls, name: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if name is not None:
            if name in cls.registry:
                raise ValueError(f"A {cls.registry.kind} named {name!r} is registered already")
            cls.name = name
            cls.registry[name] = cls
