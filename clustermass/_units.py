"""Units, physical constants and unit conversion shared by every module.

Private module with public names (the photutils ``utils/_quantity_helpers.py``
pattern): each constant and helper has exactly one copy, here, and every
module imports it from here.
"""

import numpy as np
from astropy import constants as const
from astropy import units as u
from astropy.cosmology import units as cu

from .exceptions import InvalidInputError

__all__ = [
    "R_UNIT",
    "V_UNIT",
    "C_KMS",
    "EVRARD_SIGMA15",
    "EVRARD_ALPHA",
    "value_in",
    "check_redshift",
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


def value_in(x, unit, name, equivalencies=()):
    """``x`` as a float array in ``unit``; plain numbers are taken to be in ``unit``.

    Raises `~clustermass.exceptions.InvalidInputError` for a Quantity in
    incompatible units or a value that is not numeric.
    """
    if isinstance(x, u.Quantity):
        try:
            x = x.to_value(unit, equivalencies=list(equivalencies))
        except u.UnitConversionError:
            hint = ""
            if unit == R_UNIT and x.unit.is_equivalent(u.Mpc):
                hint = (
                    " Radii in physical length need h: give them in u.Mpc / cu.littleh, e.g."
                    " R.to(u.Mpc / cu.littleh, cu.with_H0(cosmology.H0))."
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
    z = u.Quantity(z, cu.redshift).to_value(cu.redshift) if isinstance(z, u.Quantity) else z
    z = np.asanyarray(z, dtype=float)
    if not np.all(np.isfinite(z)):
        raise InvalidInputError(f"{name} contains NaN or infinite values")
    if np.any(z <= -1):
        raise InvalidInputError(f"{name} must be > -1")
    return z
