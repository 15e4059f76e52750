"""Units, physical constants and unit conversion shared by every module.

Private module with public names (the photutils ``utils/_quantity_helpers.py``
pattern): each constant and helper has exactly one copy, here, and every
module imports it from here.
"""

import warnings

import numpy as np
from astropy import constants as const
from astropy import units as u
from astropy.cosmology import units as cu

from .exceptions import InvalidInputError, UnitsAssumedWarning

__all__ = [
    "R_UNIT",
    "V_UNIT",
    "C_KMS",
    "EVRARD_SIGMA15",
    "EVRARD_ALPHA",
    "value_in",
    "check_redshift",
    "cluster_redshift",
    "MAX_CLUSTER_REDSHIFT",
]

#: Unit of projected radii: h^-1 Mpc, in astropy's little-h convention.
R_UNIT = u.Mpc / cu.littleh
#: Unit of line-of-sight velocities.
V_UNIT = u.km / u.s
#: Speed of light in km/s (CODATA, exact), as a plain float.
C_KMS = const.c.to_value(V_UNIT)

#: Normalisation sigma_15 [km/s] of the dark-matter velocity dispersion-mass
#: relation, sigma = sigma_15 (h(z) M200c / 1e15 Msun)^alpha
#: (Evrard et al. 2008, ApJ 672, 122, table 3: 1082.9 +- 4.0 km/s).
EVRARD_SIGMA15 = 1082.9
#: Slope alpha of that relation (Evrard et al. 2008: 0.3361 +- 0.0026).
EVRARD_ALPHA = 0.3361

#: Largest cluster redshift accepted. No galaxy cluster is known beyond z ~ 2,
#: so a larger "redshift" is almost surely a velocity cz in km/s given by mistake.
MAX_CLUSTER_REDSHIFT = 20.0


#: How the default units are written in code, for messages.
_SPELLED = {R_UNIT: "u.Mpc / cu.littleh", V_UNIT: "u.km / u.s", u.deg: "u.deg"}


def _refuse_non_numeric(x, name):
    """Raise for strings and booleans, which numpy would silently turn into floats."""
    if isinstance(x, (str, bytes, bool, np.bool_)):
        raise InvalidInputError(f"{name} must be a number, got {type(x).__name__} {x!r}")
    if isinstance(x, (list, tuple)):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError):
            return  # ragged: the float conversion that follows reports it
    kind = getattr(getattr(x, "dtype", None), "kind", None)
    if kind in ("U", "S", "b"):
        raise InvalidInputError(f"{name} must be numeric, got an array of dtype {x.dtype}")


def value_in(x, unit, name, equivalencies=(), *, warn_plain=False, stacklevel=3):
    """``x`` as a float array in ``unit``; plain numbers are taken to be in ``unit``.

    Raises `~clustermass.exceptions.InvalidInputError` for a Quantity in
    incompatible units or a value that is not numeric (strings and booleans
    included).

    With ``warn_plain=True``, a value without a unit is still taken to be in
    ``unit`` but a `~clustermass.exceptions.UnitsAssumedWarning` says so: the
    policy of every public entry point that takes user data (see the user
    guide, "Inputs and units"). ``stacklevel`` is that of `warnings.warn`,
    counted from this function (the default 3 points at the caller's caller).
    """
    if not isinstance(x, u.Quantity):
        _refuse_non_numeric(x, name)
        if warn_plain and getattr(x, "unit", None) is None:
            spelled = _SPELLED.get(unit, f"u.Unit({unit.to_string()!r})")
            warnings.warn(
                f"{name} has no unit; taken to be in {unit.to_string()}. Give it as a Quantity"
                f" (e.g. values * {spelled}) to silence this warning.",
                UnitsAssumedWarning, stacklevel=stacklevel,
            )
        elif getattr(x, "unit", None) is not None:  # a table Column with a unit
            x = u.Quantity(x, copy=False)
    if isinstance(x, u.Quantity):
        try:
            x = x.to_value(unit, equivalencies=list(equivalencies))
        except ValueError:  # UnitConversionError, or a unit astropy does not recognise
            hint = ""
            if unit == R_UNIT and x.unit.is_equivalent(u.Mpc):
                hint = (
                    " Radii in physical length need h: give them in u.Mpc / cu.littleh, e.g."
                    " R.to(u.Mpc / cu.littleh, cu.with_H0(cosmology.H0)), or pass them to"
                    " ClusterMass.from_phase_space, which converts with its cosmology."
                )
            raise InvalidInputError(
                f"{name} must be in units convertible to {unit}, got {x.unit}.{hint}"
            ) from None
    try:
        return np.asanyarray(x, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be numeric, got {type(x).__name__}") from None


def check_redshift(z, name):
    """Redshift(s) ``z`` as a float array, checked to be finite and > -1.

    ``z`` may be a number, an array or a Quantity in redshift units
    (`astropy.cosmology.units.redshift`). Raises
    `~clustermass.exceptions.InvalidInputError` naming ``name`` otherwise.
    """
    if isinstance(z, u.Quantity):
        z = value_in(z, cu.redshift, name, equivalencies=cu.dimensionless_redshift())
    else:
        _refuse_non_numeric(z, name)
    try:
        z = np.asanyarray(z, dtype=float)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be numeric, got {type(z).__name__}") from None
    if not np.all(np.isfinite(z)):
        raise InvalidInputError(f"{name} contains NaN or infinite values")
    if np.any(z <= -1):
        raise InvalidInputError(f"{name} must be > -1")
    return z


def cluster_redshift(z, name="redshift"):
    """The redshift of a cluster as a float, checked: a finite number in (0, 20].

    ``z`` may be a number or a scalar Quantity in redshift or dimensionless
    units (``0.05 * cu.redshift``). `None`, strings, booleans, arrays,
    Quantities in other units, zero, negative and non-finite values raise
    `~clustermass.exceptions.InvalidInputError` naming ``name``. Zero is
    refused because every cluster lies at z > 0 and because a cluster at z = 0
    has no angular-diameter distance, so its galaxies cannot be projected.
    """
    if z is None:
        raise InvalidInputError(
            f"the cluster redshift is required: give {name}=<z>, e.g. {name}=0.0231")
    z = check_redshift(z, name)
    if z.ndim != 0:
        raise InvalidInputError(f"{name} must be a single number, got shape {z.shape}")
    z = float(z)
    if z <= 0:
        raise InvalidInputError(f"{name} must be positive, got {z}")
    if z > MAX_CLUSTER_REDSHIFT:
        raise InvalidInputError(
            f"{name} = {z:g} is not a cluster redshift: it looks like a velocity cz in km/s;"
            f" give z = cz / c (here {z / C_KMS:.4f})")
    return z
