r"""Energy per arithmetic operation: the profiles that turn operation counts into picojoules.

The field's default comes from Horowitz, "Computing's energy problem (and what we can do about
it)", ISSCC 2014, pp. 10-14, whose table gives the energy of one operation in a 45 nm process
at 0.9 V:

============  ========  =========
operation     add (pJ)  mult (pJ)
============  ========  =========
8-bit int     0.03      0.2
32-bit int    0.1       3.1
16-bit float  0.4       1.1
32-bit float  0.9       3.7
============  ========  =========

A multiply-accumulate (MAC) costs a multiplication plus an addition, an accumulate (AC) one
addition: :math:`E_{MAC} = E_{mult} + E_{add}`, :math:`E_{AC} = E_{add}`, which gives the
4.6 pJ / 0.9 pJ pair used by most spiking-network papers. Memory access is not included in
any profile (Horowitz's table prices it separately, and it often dominates in practice).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

HOROWITZ_2014 = (
    'M. Horowitz, "Computing\'s energy problem (and what we can do about it)", '
    "IEEE ISSCC 2014, pp. 10-14; 45 nm, 0.9 V"
)

#: Figures of the built-in profiles, ``name -> (MAC pJ, AC pJ)``: Horowitz (ISSCC 2014), 45 nm,
#: MAC = mult + add, AC = add. A profile of another name may have any figures; one named
#: like a built-in profile (or an alias of one) must have its figures.
BUILTIN_FIGURES: dict[str, tuple[float, float]] = {
    "45nm": (4.6, 0.9),
    "fp16": (1.5, 0.4),
    "int32": (3.2, 0.1),
    "int8": (0.23, 0.03),
}
#: Aliases accepted by :func:`get_profile`.
ALIASES = {"fp32": "45nm", "45nm-fp32": "45nm", "horowitz": "45nm"}


def builtin_name(name: str) -> str | None:
    """The built-in profile ``name`` denotes (any case, aliases resolved), or ``None``."""
    key = ALIASES.get(name.lower(), name.lower())
    return key if key in BUILTIN_FIGURES else None


@dataclass(frozen=True)
class EnergyProfile:
    """The energy of one MAC and one AC on some hardware, with where the figures come from.

    Attributes:
        name: Short name (``"45nm"``, ``"fp16"``, ...).
        mac_pj: Energy of one multiply-accumulate, picojoules.
        ac_pj: Energy of one accumulate (addition), picojoules.
        source: Where the figures come from (paper, datasheet, measurement).

    Raises:
        ValueError: for a negative or non-finite energy, an empty name or source, or the name
            of a built-in profile (:data:`PROFILES`, :data:`ALIASES`) with other figures than
            its own: whatever reads the name would take the figures for the built-in ones.
        TypeError: for a non-numeric energy.
    """

    name: str
    mac_pj: float
    ac_pj: float
    source: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"EnergyProfile needs a non-empty 'name', got {self.name!r}")
        for field in ("mac_pj", "ac_pj"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(
                    f"EnergyProfile '{field}' must be a number, got {type(value).__name__} "
                    f"({value!r})"
                )
            if not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"EnergyProfile '{field}' must be a finite, non-negative energy in pJ, "
                    f"got {value}"
                )
        builtin = builtin_name(self.name)
        if builtin is not None and (self.mac_pj, self.ac_pj) != BUILTIN_FIGURES[builtin]:
            mac, ac = BUILTIN_FIGURES[builtin]
            raise ValueError(
                f"{self.name!r} is the name of a built-in profile (MAC {mac} pJ, AC {ac} pJ); "
                f"a profile of MAC {self.mac_pj} pJ and AC {self.ac_pj} pJ needs a name of "
                "its own"
            )
        if not isinstance(self.source, str) or not self.source.strip():
            raise ValueError(
                f"EnergyProfile {self.name!r} needs a 'source' saying where its figures come "
                f"from, got {self.source!r}"
            )

    def energy_pj(self, macs: float, acs: float) -> float:
        """Energy of ``macs`` MACs and ``acs`` ACs, picojoules."""
        if macs < 0 or acs < 0:
            raise ValueError(f"Operation counts must be >= 0, got macs={macs}, acs={acs}")
        return macs * self.mac_pj + acs * self.ac_pj

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Built-in profiles, all from Horowitz (ISSCC 2014), 45 nm: MAC = mult + add, AC = add.
_DERIVATIONS = {
    "45nm": "32-bit float: MAC 3.7 + 0.9 pJ, AC 0.9 pJ",
    "fp16": "16-bit float: MAC 1.1 + 0.4 pJ, AC 0.4 pJ",
    "int32": "32-bit int: MAC 3.1 + 0.1 pJ, AC 0.1 pJ",
    "int8": "8-bit int: MAC 0.2 + 0.03 pJ, AC 0.03 pJ",
}
PROFILES: dict[str, EnergyProfile] = {
    name: EnergyProfile(name, mac, ac, f"{HOROWITZ_2014}; {_DERIVATIONS[name]}")
    for name, (mac, ac) in BUILTIN_FIGURES.items()
}


def get_profile(profile: str | EnergyProfile) -> EnergyProfile:
    """Resolve a profile by name (see :data:`PROFILES`), or return an :class:`EnergyProfile`.

    Raises:
        ValueError: for an unknown name, listing the known ones.
        TypeError: for anything that is neither a name nor a profile.
    """
    if isinstance(profile, EnergyProfile):
        return profile
    if not isinstance(profile, str):
        raise TypeError(
            f"'profile' must be a name or an EnergyProfile, got {type(profile).__name__}"
        )
    key = builtin_name(profile)
    if key is None:
        raise ValueError(
            f"Unknown energy profile {profile!r}; expected one of "
            f"{sorted(PROFILES) + sorted(ALIASES)} or an EnergyProfile"
        )
    return PROFILES[key]


__all__ = [
    "ALIASES",
    "BUILTIN_FIGURES",
    "HOROWITZ_2014",
    "PROFILES",
    "EnergyProfile",
    "builtin_name",
    "get_profile",
]
