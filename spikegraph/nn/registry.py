"""One registry per extension point: name -> class, filled by the classes themselves.

A base class of an extension point (neurons, surrogates, encoders, normalisations, readouts)
derives from :class:`Registered` and names its :class:`Registry`; a subclass registers with a
name in its class statement (``class PLIF(SpikingNeuron, name="plif")``). Layers, models and
the CLI read the names and the classes (with their defaults: the constructors') from the
registry, so that nothing else lists them.

The base class also states, once, what a registered class must implement
(:attr:`Registered.required_methods`: a neuron's ``multistep`` and ``counting_rule``, a
surrogate's ``formula``): a class statement with a name is refused when the class lacks one
(still has the base class's stub), or when the name is not a non-empty str, so that a
malformed class fails where it is written and not in a later forward or backward pass.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Registry(dict):
    """Name -> class of one extension point (``kind``: ``"neuron"``, ``"encoder"``, ...).

    A name is registered once, on every way in (a class statement, ``registry[name] = ...``,
    :meth:`update`, :meth:`setdefault`, ``|=``): a name that is taken, or that is not a
    non-empty str, is refused naming it, so that a built-in is never replaced silently;
    ``registry.pop(name)`` removes an entry. A subclass checks its entries further in
    :meth:`check_entry`.
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def check_name(self, name: Any, owner: str = "") -> None:
        """Refuse ``name`` unless it is a non-empty str that is not registered yet
        (``owner``: where it comes from, for messages, e.g. ``" (class PLIF)"``).

        Raises:
            TypeError: for a name that is not a str.
            ValueError: for an empty name or a taken one.
        """
        if not isinstance(name, str):
            raise TypeError(
                f"A {self.kind}'s name must be a non-empty str, got {type(name).__name__} "
                f"{name!r}{owner}"
            )
        if not name.strip():
            raise ValueError(f"A {self.kind}'s name must be a non-empty str, got {name!r}{owner}")
        if name in self:
            raise ValueError(
                f"A {self.kind} named {name!r} is registered already ({self.describe(name)}); "
                "register yours under another name"
            )

    def describe(self, name: str) -> str:
        """What ``name`` holds, for messages (the class's name)."""
        return getattr(self[name], "__qualname__", repr(self[name]))

    def check_entry(self, name: str, entry: Any) -> Any:
        """Check (and return) the entry registered as ``name``; any entry by default."""
        return entry

    def __setitem__(self, name: str, entry: Any) -> None:
        self.check_name(name)
        super().__setitem__(name, self.check_entry(name, entry))

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Register every entry, as assignment does (a taken name is refused)."""
        for name, entry in dict(*args, **kwargs).items():
            self[name] = entry

    def setdefault(self, name: str, entry: Any = None) -> Any:
        """The entry of ``name``; registers ``entry`` first if the name is free."""
        if name not in self:
            self[name] = entry
        return self[name]

    def __ior__(self, other: Any) -> Registry:
        self.update(other)
        return self

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
    base class's :attr:`registry` and gets that :attr:`name`.

    Registering checks the class first: the name must be a non-empty str not registered
    yet, and the class must implement each of :attr:`required_methods`
    (:func:`missing_methods`). A subclass without a name (a shared base such as the LIF
    family's) is not registered, and not checked.
    """

    #: The registry of the extension point (set by its base class).
    registry: ClassVar[Registry]
    #: Registered name (``None``: not registered; a subclass without a name keeps its
    #: parent's).
    name: ClassVar[str | None] = None
    #: The methods a registered class must implement (set by the extension point's base
    #: class, which defines each as a stub that raises :class:`NotImplementedError`).
    required_methods: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, name: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if name is not None:
            kind = cls.registry.kind
            cls.registry.check_name(name, f" (class {cls.__qualname__})")
            missing = missing_methods(cls)
            if missing:
                raise TypeError(
                    f"Cannot register {kind} {name!r}: {cls.__qualname__} does not implement "
                    f"{list(missing)}, which every {kind} must"
                )
            cls.name = name
            cls.registry[name] = cls


def missing_methods(cls: type) -> tuple[str, ...]:
    """The :attr:`~Registered.required_methods` that class ``cls`` does not implement: those it
    has only as the stub of a base class that requires them (or not at all, or not as a
    callable), in the order the extension point lists them."""
    return tuple(
        name for name in getattr(cls, "required_methods", ()) if not _implements(cls, name)
    )


def _implements(cls: type, name: str) -> bool:
    """Whether the definition of ``name`` that ``cls`` finds first is a real one: callable,
    and not the stub of a class that lists ``name`` among its own required methods."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            value = klass.__dict__[name]
            stub = name in klass.__dict__.get("required_methods", ())
            function = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            return not stub and callable(function)
    return False
