"""Finding and reading the columns of users' galaxy and cluster tables.

Private module with public names: `clustermass.core.ClusterMass.from_table`
and catalogue mode (`clustermass.survey`) read tables through these helpers,
so that both accept the same column names and treat units, blanks and
unit-less columns the same way (a catalogue row must equal ``from_table``).
"""

import numpy as np
from astropy import units as u

from ._units import value_in
from .exceptions import UnitsAssumedWarning, warn_user

__all__ = ["COLUMN_ALIASES", "find_column", "column_values"]

#: Accepted column names, matched case-insensitively, in order of preference
#: (VizieR's ``RAJ2000``/``_RAJ2000``, NED's ``RA(deg)`` and ``Redshift (z)``...).
COLUMN_ALIASES = {
    "name": ("name", "cluster", "cluster_name", "id"),
    "ra": ("ra", "raj2000", "_raj2000", "ra_deg", "ra(deg)", "ra_icrs"),
    "dec": ("dec", "dej2000", "_dej2000", "decj2000", "dec_deg", "dec(deg)", "de_icrs"),
    "redshift": ("redshift", "z", "redshift (z)", "zspec", "z_spec"),
    "cz": ("cz", "velocity", "vel"),
}


def find_column(table, key):
    """The name of ``table``'s column for ``key`` (a key of `COLUMN_ALIASES`), or `None`.

    Names are matched case-insensitively; among several spellings of one alias
    the table's first column wins.
    """
    lower = {name.lower(): name for name in reversed(table.colnames)}
    return next((lower[alias] for alias in COLUMN_ALIASES[key] if alias in lower), None)


def column_values(table, name, unit, *, what=None, stacklevel=3):
    """A column as a float array in ``unit``, with blank (masked) entries as NaN.

    A column without a unit is taken to be in ``unit``, with a
    `~clustermass.exceptions.UnitsAssumedWarning` unless ``unit`` is
    dimensionless or the column name spells the unit (NED's ``RA(deg)``).

    Returns
    -------
    values : ndarray
    mask : ndarray of bool
        True where the table had a blank.
    """
    col = table[name]
    mask = np.ma.getmaskarray(col) if hasattr(col, "mask") else np.zeros(len(col), bool)
    data = np.ma.filled(col, np.nan) if hasattr(col, "mask") else col
    if isinstance(col, u.Quantity) or getattr(col, "unit", None) is not None:
        data = u.Quantity(data, col.unit)
    elif unit != u.dimensionless_unscaled and unit.to_string() not in name.lower():
        where = f" of the {what} table" if what else ""
        warn_user(f"column {name!r}{where} has no unit; taken to be in {unit.to_string()}."
                  f" Give the column a unit (table[{name!r}].unit = {unit.to_string()!r}) to"
                  " silence this warning.", UnitsAssumedWarning, stacklevel=stacklevel + 1)
    values = np.array(value_in(data, unit, name, equivalencies=u.dimensionless_angles()),
                      dtype=float)
    values[mask] = np.nan
    return values, mask
