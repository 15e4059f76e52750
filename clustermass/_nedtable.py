"""Parsing and selection of NED cone-search replies: pure functions on tables.

The offline half of `clustermass.ned`, which re-exports every public name
here (use them as ``clustermass.ned.parse_ned_table`` etc.; this private
module exists so that neither half exceeds ~600 lines). Nothing here touches
the network: `parse_ned_table` maps NED's two table layouts ("schemas", see
`clustermass.ned`) onto one set of columns with units (`COLUMNS`), and
`select_galaxies` keeps the galaxies with spectroscopic redshifts in a
window. They are tested offline against real NED replies recorded by the
astroquery project.
"""

import copy
import re
from datetime import UTC, datetime

import numpy as np
from astropy import units as u
from astropy.table import QTable

from ._units import C_KMS, V_UNIT
from .exceptions import InvalidInputError, NEDServiceError
from .logger import log

__all__ = [
    "parse_ned_table",
    "select_galaxies",
    "conform",
    "GALAXY_TYPES",
    "NON_SPECTROSCOPIC_FLAGS",
    "NON_SPECTROSCOPIC_TECHNIQUES",
    "NON_SPECTROSCOPIC_METHODS",
    "COLUMNS",
]

#: NED object types that `select_galaxies` keeps by default.
#: Documented in `clustermass.ned`, which re-exports it.
GALAXY_TYPES = ("G", "QSO", "EmLS")

#: Legacy NED redshift flags of values not measured from a spectrum.
#: Documented in `clustermass.ned`, which re-exports it.
NON_SPECTROSCOPIC_FLAGS = ("PHOT", "SED", "EST", "PRED", "MOD", "LUM", "MFA", "TOMO")

#: New-API flag letters (technique) of values not measured from a spectrum.
#: Documented in `clustermass.ned`, which re-exports it.
NON_SPECTROSCOPIC_TECHNIQUES = ("P", "M", "I")

#: New-API flag letters 2-3 (method) of estimates that are not spectroscopic.
#: Documented in `clustermass.ned`, which re-exports it.
NON_SPECTROSCOPIC_METHODS = ("FO", "LE", "LU", "MF", "ML", "SE", "TO")

#: Columns of the parsed and selected tables: ``{name: (unit, description)}``.
#: Documented in `clustermass.ned`, which re-exports it.
COLUMNS = {
    "name": (None, "NED object name"),
    "ra": (u.deg, "right ascension (J2000)"),
    "dec": (u.deg, "declination (J2000)"),
    "redshift": (None, "NED preferred heliocentric redshift (NaN where NED lists none)"),
    "velocity": (V_UNIT, "NED preferred velocity cz (NaN where NED lists none)"),
    "type": (None, "NED object type ('' where NED gives none)"),
    "z_flag": (None, "NED redshift flag ('' where NED gives none)"),
    "separation": (u.arcmin, "angular separation from the search centre (NaN if not given)"),
}

# Where each output column comes from: (legacy candidates, new-API candidates).
_SOURCES = {
    "name": (("Object Name",), ("Object Name",)),
    "ra": (("RA(deg)", "RA"), ("RA",)),
    "dec": (("DEC(deg)", "DEC", "Dec"), ("Dec", "DEC")),
    "redshift": (("Redshift",), ("Redshift (z)",)),
    "velocity": (("Velocity",), ("cz",)),
    "type": (("Type",), ("Phys Type",)),
    "z_flag": (("Redshift Flag",), ("z flag",)),
    "separation": (("Separation", "Distance (arcmin)"), ("Separation",)),
}
_UNIT_SPELLINGS = {"degrees": u.deg, "km/sec": V_UNIT, "arcmins": u.arcmin}


# -- parsing -------------------------------------------------------------------


def _schema_of(table):
    cols = set(table.colnames)
    if "Object Name" in cols and ("Redshift (z)" in cols or "Phys Type" in cols):
        return "new_api"
    if "Object Name" in cols and "Type" in cols and ("Redshift" in cols or "Velocity" in cols):
        return "legacy"
    hint = ""
    if {"prefname", "main_col2"} & cols:
        hint = (" The columns carry VOTable IDs, not names: read NED VOTables with"
                " Table.read(..., format='votable', use_names_over_ids=True).")
    elif "Object Name" not in cols:
        hint = " This is not a NED cone search (e.g. a per-object redshift table)."
    raise NEDServiceError(
        f"NED replied with a table that clustermass does not recognise (columns"
        f" {table.colnames}).{hint} If NED changed its format, please report it."
    )


def _find(table, names):
    for name in names:
        if name in table.colnames:
            return table[name]
    return None


def _strings(col, n):
    if col is None:
        return np.full(n, "", dtype="U1")
    mask = np.ma.getmaskarray(col) if hasattr(col, "mask") else np.zeros(n, bool)
    out = []
    for value, masked in zip(np.asarray(col, dtype=object), mask, strict=True):
        if masked or value is None or value is np.ma.masked:
            out.append("")
        elif isinstance(value, bytes):
            out.append(value.decode("utf-8", "replace").strip())
        else:
            out.append(str(value).strip())
    return np.array(out, dtype=str) if out else np.array([], dtype="U1")


def _floats(col, n, unit=None, what=""):
    """A column as float64 in ``unit``; masked, blank or unparsable entries -> NaN."""
    if col is None:
        return np.full(n, np.nan)
    mask = np.ma.getmaskarray(col) if hasattr(col, "mask") else np.zeros(n, bool)
    data = np.ma.getdata(col) if hasattr(col, "mask") else np.asarray(col)
    try:
        values = np.array(data, dtype=float)
    except (TypeError, ValueError):  # strings with blanks
        values = np.empty(n)
        for i, x in enumerate(np.asarray(data, dtype=object)):
            try:
                values[i] = float(x.decode() if isinstance(x, bytes) else x)
            except (TypeError, ValueError):
                values[i] = np.nan
    values[mask] = np.nan
    col_unit = getattr(col, "unit", None)
    if unit is not None and col_unit is not None and col_unit != unit:
        if isinstance(col_unit, u.UnrecognizedUnit):
            # NED's own spellings (the legacy service writes 'degrees'); NED documents
            # degrees, km/s and arcmin for these columns, which are the defaults here.
            col_unit = _UNIT_SPELLINGS.get(str(col_unit).strip().lower(), unit)
        try:
            values = (values * col_unit).to_value(unit)
        except (u.UnitsError, ValueError, TypeError):
            raise NEDServiceError(
                f"the NED {what} column is in {col_unit}, which cannot be converted to {unit}"
            ) from None
    return values


def conform(table):
    """Force the output columns, dtypes and units (also for tables read from the cache)."""
    columns = {name: table[name] if name in table.colnames else None for name in COLUMNS}
    return _build(columns, len(table), meta=table.meta)


def _build(columns, n, meta=None):
    """The output table from ``{name: column or None}``, in the order of `COLUMNS`."""
    out = QTable(meta=copy.deepcopy(dict(meta or {})))
    for name, (unit, description) in COLUMNS.items():
        col = columns.get(name)
        if unit is None and name != "redshift":
            values = _strings(col, n)
        else:
            values = _floats(col, n, unit, name)
            if unit is not None:
                values = values * unit
        out[name] = values
        out[name].info.description = description
    return out


def parse_ned_table(table):
    """Turn a NED cone-search reply (either schema) into a table with units.

    Parameters
    ----------
    table : `~astropy.table.Table`
        What `astroquery.ipac.ned.Ned.query_region` returns: the legacy
        service's columns or the new API's (see the module docstring). The
        schema is found from the column names.

    Returns
    -------
    objects : `~astropy.table.QTable`
        One row per NED object, with columns (`COLUMNS`) ``name`` (str),
        ``ra``, ``dec`` (deg), ``redshift`` (float64, dimensionless; NaN where
        NED lists no redshift), ``velocity`` (km/s, cz; NaN where none),
        ``type`` and ``z_flag`` (str, ``''`` where NED gives none) and
        ``separation`` (arcmin; NaN if the reply has none). Redshifts are a
        plain float column rather than a `~astropy.cosmology.units.redshift`
        Quantity, so that they mix freely with numbers. ``meta`` holds
        ``ned_schema`` (``'legacy'`` or ``'new_api'``), the counts
        ``n_objects`` and ``n_with_redshift``, and the clustermass version and
        date of parsing.

    Raises
    ------
    NEDServiceError
        If the table is not a NED cone search in a known schema.

    Examples
    --------
    A made-up reply in the legacy schema (a real one comes from
    `astroquery.ipac.ned.Ned.query_region`):

    >>> import numpy as np
    >>> from astropy.table import MaskedColumn, Table
    >>> from clustermass.ned import parse_ned_table
    >>> raw = Table({"Object Name": ["GAL 1", "GAL 2", "STAR 1"],
    ...              "RA(deg)": [194.90, 194.95, 194.93],
    ...              "DEC(deg)": [27.96, 27.90, 27.91],
    ...              "Type": ["G", "G", "*"],
    ...              "Velocity": MaskedColumn([7000.0, 0, 0], mask=[False, True, True]),
    ...              "Redshift": MaskedColumn([0.02335, 0, 0], mask=[False, True, True]),
    ...              "Redshift Flag": ["", "", ""]})
    >>> t = parse_ned_table(raw)
    >>> print(t.meta["ned_schema"], t.meta["n_objects"], t.meta["n_with_redshift"])
    legacy 3 1
    >>> print(t["name", "ra", "redshift", "velocity", "type"])
     name   ra   redshift velocity type
           deg           km / s
    ------ ------ -------- -------- ----
     GAL 1  194.9  0.02335   7000.0    G
     GAL 2 194.95      nan      nan    G
    STAR 1 194.93      nan      nan    *
    """
    if not hasattr(table, "colnames"):
        raise InvalidInputError(f"expected an astropy Table, got {type(table).__name__}")
    schema = _schema_of(table)
    which = 0 if schema == "legacy" else 1
    n = len(table)
    raw = {name: _find(table, sources[which]) for name, sources in _SOURCES.items()}
    for name in ("ra", "dec"):
        if raw[name] is None:
            raise NEDServiceError(
                f"the NED reply has no {name} column (looked for {_SOURCES[name][which]};"
                f" it has {table.colnames})"
            )
    z = _floats(raw["redshift"], n)
    cz = _floats(raw["velocity"], n, V_UNIT, "velocity")
    # Fill one from the other where only one is given (cz = c z, NED's definition).
    z = np.where(np.isnan(z) & np.isfinite(cz), cz / C_KMS, z)
    cz = np.where(np.isnan(cz) & np.isfinite(z), z * C_KMS, cz)
    parsed = {
        "name": raw["name"],
        "ra": raw["ra"],
        "dec": raw["dec"],
        "redshift": z,
        "velocity": cz * V_UNIT,
        "type": raw["type"],
        "z_flag": raw["z_flag"],
        "separation": raw["separation"],
    }
    out = _build(parsed, n)
    out.meta.update({
        "ned_schema": schema,
        "ned_table": str(table.meta.get("name", "")),
        "n_objects": n,
        "n_with_redshift": int(np.isfinite(z).sum()),
        **_provenance(),
    })
    return out


# -- selection -----------------------------------------------------------------

_NEW_FLAG = re.compile(r"^([SPMLIU])([A-Z0-9]{2})\??$")


def _non_spectroscopic(flags):
    """Which redshift flags (either schema) mark a value not measured from a spectrum."""
    out = np.zeros(len(flags), bool)
    for i, flag in enumerate(flags):
        f = str(flag).strip().upper()
        if not f:
            continue
        if f.rstrip("?:") in NON_SPECTROSCOPIC_FLAGS:
            out[i] = True
            continue
        m = _NEW_FLAG.match(f)
        if m and (m.group(1) in NON_SPECTROSCOPIC_TECHNIQUES
                  or m.group(2) in NON_SPECTROSCOPIC_METHODS):
            out[i] = True
    return out


def select_galaxies(table, *, z_min, z_max, types=GALAXY_TYPES, drop_photometric=True):
    """Keep the galaxies with a measured redshift inside ``[z_min, z_max]``.

    Rows are dropped, in this order, for being another kind of object than
    ``types``, for having no redshift, for a redshift that NED flags as not
    spectroscopic (if ``drop_photometric``; NED's redshifts mix spectroscopic
    and photometric values, cf. thespacedoctor/sherlock issue 144), and for
    lying outside the window. Each count goes to the log (``log.info``) and to
    ``meta['counts']``; the survivors are the contaminated cylinder that the
    flows of Kodi Ramanah et al. (2020) read (no interloper removal).

    Parameters
    ----------
    table : `~astropy.table.QTable`
        Output of `parse_ned_table`.
    z_min, z_max : float
        Redshift window (e.g. from `clustermass.phasespace.redshift_window`).
    types : sequence of str or None, optional
        NED object types to keep (default `GALAXY_TYPES`); `None` keeps every
        type.
    drop_photometric : bool, optional
        Drop redshifts flagged as photometric or otherwise not measured from a
        spectrum (`NON_SPECTROSCOPIC_FLAGS`, `NON_SPECTROSCOPIC_TECHNIQUES`,
        `NON_SPECTROSCOPIC_METHODS`). Default ``True``.

    Returns
    -------
    galaxies : `~astropy.table.QTable`
        The rows kept, same columns, with ``meta['counts']`` added.

    Raises
    ------
    InvalidInputError
        If the table lacks the columns of `parse_ned_table`, the window is not
        a finite increasing pair, or no galaxy is left: then the centre or
        redshift is probably wrong, or NED holds no redshifts there.

    Examples
    --------
    >>> from astropy.table import QTable
    >>> from clustermass.ned import select_galaxies
    >>> objects = QTable({"name": ["GAL 1", "GAL 2", "GAL 3", "STAR 1"],
    ...                   "redshift": [0.0231, 0.0500, 0.0240, 0.0231],
    ...                   "type": ["G", "G", "G", "*"],
    ...                   "z_flag": ["", "", "PHOT", ""]})
    >>> galaxies = select_galaxies(objects, z_min=0.015, z_max=0.031)  # doctest: +IGNORE_OUTPUT
    INFO: NED: kept 1 of 4 objects ... [clustermass.ned]
    >>> print(", ".join(galaxies["name"]), galaxies.meta["counts"]["outside_window"])
    GAL 1 1
    """
    missing = [c for c in ("redshift", "type", "z_flag") if c not in table.colnames]
    if missing:
        raise InvalidInputError(
            f"the table lacks the column(s) {missing}; pass the output of"
            " clustermass.ned.parse_ned_table"
        )
    try:
        z_min, z_max = float(z_min), float(z_max)
    except (TypeError, ValueError):
        raise InvalidInputError(f"z_min and z_max must be numbers, got {z_min!r}, {z_max!r}") \
            from None
    if not (np.isfinite(z_min) and np.isfinite(z_max) and z_min < z_max):
        raise InvalidInputError(f"need finite z_min < z_max, got {z_min}, {z_max}")
    n = len(table)
    z = _floats(table["redshift"], n)
    obj_type = _strings(table["type"], n)
    is_type = np.ones(n, bool) if types is None else np.isin(obj_type, list(types))
    has_z = np.isfinite(z)
    non_spec = (_non_spectroscopic(_strings(table["z_flag"], n)) if drop_photometric
                else np.zeros(n, bool))
    with np.errstate(invalid="ignore"):
        in_window = has_z & (z >= z_min) & (z <= z_max)
    keep = is_type & has_z & ~non_spec & in_window
    counts = {
        "objects": n,
        "kept": int(keep.sum()),
        "other_types": int((~is_type).sum()),
        "no_redshift": int((is_type & ~has_z).sum()),
        "non_spectroscopic": int((is_type & has_z & non_spec).sum()),
        "outside_window": int((is_type & has_z & ~non_spec & ~in_window).sum()),
    }
    summary = (
        f"{counts['other_types']} of other types, {counts['no_redshift']} without a redshift,"
        f" {counts['non_spectroscopic']} with a non-spectroscopic redshift and"
        f" {counts['outside_window']} outside {z_min:.5f} <= z <= {z_max:.5f}"
    )
    if counts["kept"] == 0:
        raise InvalidInputError(
            f"no galaxy left among the {n} NED objects: {summary} were dropped. Check the"
            " cluster centre and redshift (or widen v_max), or use ClusterMass.from_table"
            " with your own galaxy list."
        )
    log.info(f"NED: kept {counts['kept']} of {n} objects; dropped {summary}.")
    out = table[keep]
    out.meta = copy.deepcopy(table.meta)
    out.meta["counts"] = counts
    out.meta["selection"] = {
        "z_min": z_min, "z_max": z_max,
        "types": None if types is None else list(types),
        "drop_photometric": bool(drop_photometric),
    }
    return out


def _provenance():
    from ._config import __version__

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "clustermass_version": __version__,
    }
