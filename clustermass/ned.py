"""Galaxies around a cluster from NED, the NASA/IPAC Extragalactic Database.

This is the only module of clustermass that talks to the network, and it does
so only through `astroquery.ipac.ned.Ned` (imported when a query is made, so
that ``import clustermass`` stays fast). It follows astroquery's split between
the query and ``_parse_result``: one small function makes the network call
(``_query_ned``); parsing (`parse_ned_table`) and selection
(`select_galaxies`) are pure functions on tables, tested offline against real
NED replies recorded by the astroquery project.

NED serves two table layouts ("schemas") for a cone search:

* ``legacy``: the service behind astroquery <= 0.4.11, with columns
  ``Object Name, RA(deg)`` (or ``RA``), ``DEC(deg)`` (or ``DEC``), ``Type,
  Velocity, Redshift, Redshift Flag, ..., Distance (arcmin)`` (or
  ``Separation``);
* ``new_api``: NED's new API (astroquery pull request 3606), with columns
  ``Object Name, RA, Dec, Redshift (z), cz, z flag, Phys Type, Separation,
  ...``, where ``Redshift`` is the *number* of redshift measurements, not a
  redshift.

`parse_ned_table` maps both onto the same columns with units. Queries are made
by coordinates, never by name, because name-based NED searches have returned
objects around the wrong position (astroquery issue 2897). Parsed replies are
cached on disk as ECSV (`cache_dir`), written atomically.
"""

import contextlib
import copy
import hashlib
import inspect
import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import QTable

from .exceptions import InvalidInputError, NEDServiceError, NEDTimeoutError, OfflineError
from .logger import log
from .phasespace import (
    R_UNIT,
    V_UNIT,
    _check_redshift,
    _value_in,
    angular_radius,
    redshift_window,
    resolve_cosmology,
)

__all__ = [
    "query_region",
    "parse_ned_table",
    "select_galaxies",
    "cache_dir",
    "clear_cache",
    "GALAXY_TYPES",
    "NON_SPECTROSCOPIC_FLAGS",
    "NON_SPECTROSCOPIC_TECHNIQUES",
    "NON_SPECTROSCOPIC_METHODS",
    "COLUMNS",
]

#: NED object types that `select_galaxies` keeps by default:
#: ``G`` (galaxy), ``QSO`` (quasar or other type-1 AGN, a galaxy with an active
#: nucleus) and ``EmLS`` (emission-line source, found by emission-line surveys;
#: at cluster redshifts these are star-forming galaxies). Left out: entries
#: that stand for several galaxies (``GPair``, ``GTrpl``, ``GGroup``,
#: ``GClstr``, whose members NED lists on their own), lensed images
#: (``G_Lens``, ``Q_Lens``) and absorption-line systems (``AbLS``), which do
#: not sit at the galaxy's position, parts of galaxies (``HII``, ``SN``,
#: ``SNR``, ...), stars and Galactic objects (types starting with ``*``,
#: ``V*`` or ``!``), and sources known only by their emission in one band
#: (``RadioS``, ``IrS``, ``XrayS``, ``UvS``, ``VisS``, ...).
GALAXY_TYPES = ("G", "QSO", "EmLS")

#: Redshift flags of the legacy NED service for values that were not measured
#: from a spectrum: ``PHOT`` (photometric), ``SED`` (spectral energy
#: distribution), ``EST`` (estimated), ``PRED`` (predicted), ``MOD``
#: (modelled), ``LUM`` (from an assumed luminosity of a brightest cluster
#: galaxy), ``MFA`` (matched-filter algorithm), ``TOMO`` (lensing tomography).
#: Kept: blank (usually a reliable spectroscopic value), ``:`` and ``?``
#: (uncertain), ``1LIN`` (single line), ``TENT`` (tentative), ``SN`` (from a
#: supernova's expansion velocity). Source: NED's database guide
#: (https://ned.ipac.caltech.edu/Documents/Guides/Database).
NON_SPECTROSCOPIC_FLAGS = ("PHOT", "SED", "EST", "PRED", "MOD", "LUM", "MFA", "TOMO")

#: First letter ("technique") of the new API's redshift flags for values not
#: measured from a spectrum: ``P`` (photometric), ``M`` (modelled), ``I``
#: (inferred). Kept: ``S`` (spectroscopic), ``L`` (several techniques), ``U``
#: (unknown, mostly older literature values).
NON_SPECTROSCOPIC_TECHNIQUES = ("P", "M", "I")

#: Letters 2-3 ("method") of the new API's redshift flags for estimates that
#: are not spectroscopic whatever the technique letter says: ``FO``
#: (friends of friends), ``LE`` (lensing model), ``LU`` (assumed luminosity),
#: ``MF`` (matched filter), ``ML`` (machine learning), ``SE`` (spectral energy
#: distribution), ``TO`` (lensing tomography).
NON_SPECTROSCOPIC_METHODS = ("FO", "LE", "LU", "MF", "ML", "SE", "TO")

#: Columns of the tables that `parse_ned_table`, `select_galaxies` and
#: `query_region` return, with their units (`None`: no unit) and meaning.
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

#: Bump when the layout of cached files or the parsing changes.
_CACHE_VERSION = 2
#: Relative margin added to the cone radius, so that galaxies just at r_max
#: are not lost to rounding in NED's own distance computation.
_RADIUS_MARGIN = 0.02
_C_KMS = 299792.458
_UNIT_SPELLINGS = {"degrees": u.deg, "km/sec": V_UNIT, "arcmins": u.arcmin}
_SERVICE = "NASA/IPAC Extragalactic Database (NED), cone search via astroquery.ipac.ned"
_ACKNOWLEDGEMENT = (
    "This research has made use of the NASA/IPAC Extragalactic Database (NED), which is"
    " funded by the National Aeronautics and Space Administration and operated by the"
    " California Institute of Technology."
)


# -- cache ---------------------------------------------------------------------


def cache_dir():
    """Directory of clustermass' NED cache, created if needed.

    It is ``ned/`` inside the clustermass cache directory that astropy
    assigns (`astropy.config.paths.get_cache_dir_path` with
    ``rootname="clustermass"``; typically ``$XDG_CACHE_HOME/clustermass/ned``).

    Returns
    -------
    path : `pathlib.Path`
    """
    from astropy.config import paths

    if hasattr(paths, "get_cache_dir_path"):  # astropy >= 7.0
        root = paths.get_cache_dir_path("clustermass")
    else:  # pragma: no cover - astropy 6.x
        root = Path(paths.get_cache_dir("clustermass"))
    path = Path(root) / "ned"
    path.mkdir(parents=True, exist_ok=True)
    return path


def clear_cache():
    """Delete every cached NED reply.

    Returns
    -------
    n : int
        How many files were deleted.
    """
    n = 0
    for path in cache_dir().glob("cone_*.ecsv"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            n += 1
    return n


def _cache_key(center, radius, z_min, z_max, server_side_z):
    payload = {
        "version": _CACHE_VERSION,
        "ra": round(float(center.icrs.ra.deg), 6),
        "dec": round(float(center.icrs.dec.deg), 6),
        "radius_arcmin": round(float(radius.to_value(u.arcmin)), 4),
        "z_min": round(float(z_min), 7),
        "z_max": round(float(z_max), 7),
        "server_side_z": bool(server_side_z),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def _read_cache(path):
    """A cached parsed reply, or `None` (with a log warning) if it is unusable."""
    try:
        table = QTable.read(path, format="ascii.ecsv")
        if table.meta.get("cache_version") != _CACHE_VERSION:
            raise ValueError(f"cache version {table.meta.get('cache_version')!r}")
        return _conform(table)
    except Exception as exc:  # a damaged file of any kind (YAML, ECSV, units): refetch
        log.warning(
            f"Ignoring the unreadable NED cache file {path} ({type(exc).__name__}: {exc});"
            " querying NED again."
        )
        return None


def _write_atomic(table, path):
    """Write ``table`` as ECSV to ``path`` via a temporary file and `os.replace`."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            table.write(f, format="ascii.ecsv")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


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


def _conform(table):
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
    z = np.where(np.isnan(z) & np.isfinite(cz), cz / _C_KMS, z)
    cz = np.where(np.isnan(cz) & np.isfinite(z), z * _C_KMS, cz)
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


# -- the network ---------------------------------------------------------------


def _supports_z_constraint(query):
    """Whether ``Ned.query_region`` takes the new API's ``z_constraint`` keyword."""
    try:
        params = inspect.signature(query).parameters
    except (TypeError, ValueError):
        return False
    if "z_constraint" in params:
        return True
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return takes_kwargs and "z_constraint" in (inspect.getdoc(query) or "")


def _query_ned(center, radius, timeout, *, z_window=None):
    """The network call: one NED cone search by coordinates (patched in the tests)."""
    from astroquery.ipac.ned import Ned

    kwargs = {}
    if z_window is not None:
        kwargs = {"z_constraint": "Between", "z_value1": float(z_window[0]),
                  "z_value2": float(z_window[1]), "z_unit": "z"}
    had_own = "TIMEOUT" in vars(Ned)
    old = Ned.TIMEOUT
    Ned.TIMEOUT = timeout
    try:
        return Ned.query_region(center, radius=radius, **kwargs)
    finally:
        if had_own:
            Ned.TIMEOUT = old
        else:
            del Ned.TIMEOUT


def _call_ned(center, radius, timeout, *, z_window=None):
    """`_query_ned`, with its failures turned into clustermass exceptions."""
    from xml.parsers.expat import ExpatError

    import requests
    from astroquery import exceptions as aqe

    service_errors = tuple(
        getattr(aqe, name) for name in ("RemoteServiceError", "TableParseError",
                                        "InvalidQueryError") if hasattr(aqe, name)
    )
    try:
        table = _query_ned(center, radius, timeout, z_window=z_window)
    except (requests.exceptions.Timeout, TimeoutError) as exc:
        raise NEDTimeoutError(
            f"NED did not answer within {timeout} s ({type(exc).__name__}: {exc}). NED is often"
            " slow under load: try again later, raise clustermass.conf.ned_timeout, or use an"
            " offline snapshot (ClusterMass.from_ned(name, offline=True) for Coma and A1689)"
            " or ClusterMass.from_table with your own galaxies."
        ) from None
    except requests.exceptions.ConnectionError as exc:
        raise OfflineError(_offline_message(exc)) from None
    except requests.exceptions.RequestException as exc:  # HTTP errors, broken replies
        raise NEDServiceError(
            f"NED answered with an HTTP error or a broken reply ({type(exc).__name__}: {exc})."
            " This is usually transient: try again later."
        ) from None
    except OSError as exc:  # sockets refused below requests (e.g. no network at all)
        raise OfflineError(_offline_message(exc)) from None
    except (*service_errors, ValueError, ExpatError) as exc:
        raise NEDServiceError(
            f"NED returned an error or a reply that is not a VOTable ({type(exc).__name__}:"
            f" {exc}). This is usually transient: try again later."
        ) from None
    if table is None:
        raise NEDServiceError("NED returned no table. Try again later.")
    return table


def _offline_message(exc):
    return (
        f"NED cannot be reached ({type(exc).__name__}: {exc}). Check the network, or use an"
        " offline snapshot (ClusterMass.from_ned(name, offline=True) for Coma and A1689) or"
        " ClusterMass.from_table with your own galaxies."
    )


def _provenance():
    from . import __version__

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "clustermass_version": __version__,
    }


def query_region(center, *, redshift, r_max=1.6 * R_UNIT, v_max=2500 * V_UNIT, cosmology=None,
                 cache=None, timeout=None):
    """Galaxies with redshifts in a cylinder around a cluster, from NED.

    One NED cone search around ``center``, with the angle that ``r_max``
    subtends at the cluster redshift (plus 2 %), parsed with
    `parse_ned_table`; then `select_galaxies` keeps the galaxies whose
    rest-frame line-of-sight velocity lies within ``+-v_max`` of the cluster
    (`clustermass.phasespace.redshift_window`). With an astroquery that
    supports NED's new API, the redshift window is also sent to NED
    (``z_constraint="Between"``), which makes the reply much smaller; it is
    applied here in any case. NED is queried by coordinates only.

    Parameters
    ----------
    center : `~astropy.coordinates.SkyCoord`
        Cluster centre.
    redshift : float
        Cluster redshift.
    r_max : `~astropy.units.Quantity` ['length' / littleh], optional
        Projected radius to cover, in h^-1 Mpc (default 1.6, the phase-space
        window of Kodi Ramanah et al. 2020).
    v_max : `~astropy.units.Quantity` ['speed'], optional
        Half-width of the velocity window (default 2500 km/s, the cylinder of
        Ho et al. 2019, ApJ 887, 25).
    cosmology : `~astropy.cosmology.Cosmology`, optional
        Converts ``r_max`` to an angle; default Planck13.
    cache : bool, optional
        Read and write the on-disk cache (`cache_dir`); default
        ``clustermass.conf.ned_cache``. The cache holds the parsed reply
        (all objects), keyed by centre, radius and window.
    timeout : float or `~astropy.units.Quantity` ['time'], optional
        Time to wait for NED (a float is in seconds); default
        ``clustermass.conf.ned_timeout``.

    Returns
    -------
    galaxies : `~astropy.table.QTable`
        The columns of `parse_ned_table`, only selected galaxies. ``meta``
        holds the query (``query``: centre, radius, window, cosmology), the
        NED schema, the counts of `select_galaxies`, the service, the date of
        the NED query, the clustermass and astroquery versions,
        ``from_cache`` and NED's requested acknowledgement.

    Raises
    ------
    NEDTimeoutError
        NED did not answer within ``timeout``.
    OfflineError
        NED cannot be reached.
    NEDServiceError
        NED answered with an error or with something that is not a cone search.
    InvalidInputError
        Bad arguments, or no galaxy left in the window.

    Notes
    -----
    At low redshift the cone is wide (82 arcmin for 1.6 h^-1 Mpc at Coma's
    z = 0.0231), and the legacy NED service returns every object in it, most
    without a redshift: expect a slow first query, then the cache.

    Examples
    --------
    >>> from astropy.coordinates import SkyCoord
    >>> from clustermass import ned
    >>> coma = SkyCoord(194.93502, 27.91246, unit="deg")
    >>> galaxies = ned.query_region(coma, redshift=0.0231)  # doctest: +REMOTE_DATA +IGNORE_OUTPUT
    >>> galaxies.colnames  # doctest: +REMOTE_DATA
    ['name', 'ra', 'dec', 'redshift', 'velocity', 'type', 'z_flag', 'separation']
    """
    from . import conf

    if not isinstance(center, SkyCoord) or not center.isscalar:
        raise InvalidInputError(
            "center must be a scalar SkyCoord: NED is queried by coordinates, not by name"
            " (e.g. SkyCoord(194.935, 27.912, unit='deg'))"
        )
    try:
        z_c = _check_redshift(redshift, "redshift")
    except (TypeError, ValueError, u.UnitsError):
        z_c = np.array(np.nan)
    if z_c.ndim != 0 or not z_c > 0:
        raise InvalidInputError(f"redshift must be one positive number, got {redshift!r}")
    z_c = float(z_c)
    cache = bool(conf.ned_cache if cache is None else cache)
    timeout = conf.ned_timeout if timeout is None else timeout
    try:
        timeout = float(timeout.to_value(u.s) if isinstance(timeout, u.Quantity) else timeout)
    except (TypeError, ValueError, u.UnitsError):
        timeout = np.nan
    if not timeout > 0:
        raise InvalidInputError(f"timeout must be a positive number of seconds, got {timeout}")
    cosmo = resolve_cosmology(cosmology)
    radius = (angular_radius(r_max, z_c, cosmology=cosmo) * (1 + _RADIUS_MARGIN)).to(u.arcmin)
    z_min, z_max = redshift_window(z_c, v_max)

    from astroquery.ipac.ned import Ned

    server_side_z = _supports_z_constraint(Ned.query_region)
    path = None
    if cache:
        key = _cache_key(center, radius, z_min, z_max, server_side_z)
        try:
            path = cache_dir() / f"cone_{key}.ecsv"
        except OSError as exc:
            log.warning(f"The NED cache directory cannot be used ({exc}); not caching.")
    objects = _read_cache(path) if path is not None and path.exists() else None
    if objects is not None:
        log.info(f"NED: using the cached reply {path} (queried {objects.meta.get('date')})")
        objects.meta["from_cache"] = True
    else:
        log.info(
            f"NED: cone search of radius {radius:.2f} around"
            f" ({center.icrs.ra.deg:.5f}, {center.icrs.dec.deg:.5f}) deg"
        )
        raw = _call_ned(center, radius, timeout,
                        z_window=(z_min, z_max) if server_side_z else None)
        objects = parse_ned_table(raw)
        objects.meta.update({
            "service": _SERVICE,
            "astroquery_version": _astroquery_version(),
            "query": {
                "ra_deg": float(center.icrs.ra.deg),
                "dec_deg": float(center.icrs.dec.deg),
                "radius_arcmin": float(radius.to_value(u.arcmin)),
                "cluster_redshift": z_c,
                "r_max_mpc_h": float(np.asarray(_value_in(r_max, R_UNIT, "r_max"))),
                "v_max_km_s": float(np.asarray(_value_in(v_max, V_UNIT, "v_max"))),
                "z_min": float(z_min),
                "z_max": float(z_max),
                "cosmology": str(cosmo.name),
                "server_side_z": bool(server_side_z),
            },
            "acknowledgement": _ACKNOWLEDGEMENT,
            "cache_version": _CACHE_VERSION,
            "from_cache": False,
        })
        if path is not None:
            try:
                _write_atomic(objects, path)
            except OSError as exc:
                log.warning(f"Could not write the NED cache file {path} ({exc}).")
    return select_galaxies(objects, z_min=z_min, z_max=z_max)


def _astroquery_version():
    try:
        from astroquery import __version__
    except ImportError:  # pragma: no cover
        return "unknown"
    return str(__version__)
