"""Galaxies around a cluster from NED, the NASA/IPAC Extragalactic Database.

This is the only module of clustermass that talks to the network, and it does
so only through `astroquery.ipac.ned.Ned` (imported when a query is made).
The network call lives in one small function (`_query_ned`); parsing and
selection are pure functions on tables, so they are tested offline against
recorded NED replies (astroquery's query / parse split).

NED serves two schemas: the service behind astroquery <= 0.4.11 (columns
``Object Name, RA(deg) or RA, DEC(deg) or DEC, Type, Velocity, Redshift,
Redshift Flag, ...``) and NED's newer API (astroquery pull request 3606:
``Object Name, RA, Dec, Redshift (z), cz, z flag, Phys Type, Separation,
...``, where ``Redshift`` is the *number* of redshift measurements).
`parse_ned_table` maps both onto the same columns with units.

Queries are made by coordinates, never by name (name-based NED queries have
returned objects at wrong positions, astroquery issue 2897), and replies are
cached on disk as ECSV, written atomically.
"""

import hashlib
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import QTable

from .exceptions import InvalidInputError, NEDServiceError, NEDTimeoutError, OfflineError
from .logger import log
from .phasespace import R_UNIT, V_UNIT, angular_radius, redshift_window

__all__ = [
    "query_region",
    "parse_ned_table",
    "select_galaxies",
    "GALAXY_TYPES",
    "cache_dir",
]

#: NED object types kept as galaxies: G (galaxy), GPair, GTrpl, GGroup members are
#: excluded; QSO, stars (*), radio/X-ray sources, HII regions etc. are dropped too.
GALAXY_TYPES = ("G",)

#: Redshift flags of estimates that are not spectroscopic (NED: PHOT photometric,
#: and the new API's codes ending in 'P'); dropped (REFERENCES.md, sherlock #144).
_PHOTOMETRIC_FLAGS = ("PHOT", "PHOTO")

_SCHEMAS = {
    # clustermass column: (legacy names, new API names)
    "name": (("Object Name",), ("Object Name",)),
    "ra": (("RA(deg)", "RA"), ("RA",)),
    "dec": (("DEC(deg)", "DEC"), ("Dec",)),
    "redshift": (("Redshift",), ("Redshift (z)",)),
    "velocity": (("Velocity",), ("cz",)),
    "type": (("Type",), ("Phys Type",)),
    "z_flag": (("Redshift Flag",), ("z flag",)),
    "separation": (("Distance (arcmin)", "Separation"), ("Separation",)),
}
_CACHE_VERSION = 1


def cache_dir():
    """Directory of the NED cache: ``<astropy cache dir>/clustermass/ned``."""
    from astropy.config import get_cache_dir

    path = Path(get_cache_dir("clustermass")) / "ned"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _schema_of(table):
    cols = set(table.colnames)
    if "Redshift (z)" in cols or "Phys Type" in cols:
        return "new_api"
    if "Type" in cols and "Redshift" in cols:
        return "legacy"
    raise NEDServiceError(
        "NED replied with a table clustermass does not recognise (columns"
        f" {table.colnames}); update clustermass or report the change"
    )


def _column(table, names, what):
    for name in names:
        if name in table.colnames:
            return table[name]
    raise NEDServiceError(f"the NED reply has no {what} column (looked for {names})")


def _float(col):
    values = np.ma.filled(np.ma.asarray(col, dtype=float), np.nan) if hasattr(col, "mask") \
        else np.asarray(col, dtype=float)
    return np.array(values, dtype=float)


def _str(col):
    return np.array([("" if (v is np.ma.masked or v is None) else
                      (v.decode() if isinstance(v, bytes) else str(v))).strip() for v in col])


def parse_ned_table(table):
    """NED cone-search reply (either schema) -> `~astropy.table.QTable` with units.

    Parameters
    ----------
    table : `~astropy.table.Table`
        What `astroquery.ipac.ned.Ned.query_region` returns.

    Returns
    -------
    galaxies : `~astropy.table.QTable`
        Columns ``name`` (str), ``ra``, ``dec`` (deg), ``redshift`` (float, NaN
        when NED has none), ``velocity`` (km/s, cz), ``type``, ``z_flag`` (str)
        and ``separation`` (arcmin); ``meta['ned_schema']`` is ``'legacy'`` or
        ``'new_api'``.
    """
    schema = _schema_of(table)
    which = 0 if schema == "legacy" else 1
    out = QTable()
    out["name"] = _str(_column(table, _SCHEMAS["name"][which], "name"))
    out["ra"] = _float(_column(table, _SCHEMAS["ra"][which], "RA")) * u.deg
    out["dec"] = _float(_column(table, _SCHEMAS["dec"][which], "Dec")) * u.deg
    out["redshift"] = _float(_column(table, _SCHEMAS["redshift"][which], "redshift"))
    out["velocity"] = _float(_column(table, _SCHEMAS["velocity"][which], "velocity")) * V_UNIT
    out["type"] = _str(_column(table, _SCHEMAS["type"][which], "object type"))
    try:
        out["z_flag"] = _str(_column(table, _SCHEMAS["z_flag"][which], "redshift flag"))
    except NEDServiceError:
        out["z_flag"] = np.full(len(out), "")
    try:
        out["separation"] = _float(_column(table, _SCHEMAS["separation"][which],
                                           "separation")) * u.arcmin
    except NEDServiceError:
        out["separation"] = np.full(len(out), np.nan) * u.arcmin
    out["redshift"].description = "NED preferred redshift (NaN: none)"
    out["velocity"].description = "NED preferred cz"
    out.meta["ned_schema"] = schema
    return out


def select_galaxies(galaxies, *, z_min, z_max, drop_photometric=True):
    """Keep galaxies with a measured redshift in ``[z_min, z_max]``.

    Objects whose type is not a galaxy (`GALAXY_TYPES`), without a redshift, or
    (by default) with a photometric redshift flag are dropped, with counts in
    the log and in ``meta['ned_dropped']``.
    """
    z = np.asarray(galaxies["redshift"], dtype=float)
    is_galaxy = np.isin(np.asarray(galaxies["type"]), GALAXY_TYPES)
    has_z = np.isfinite(z)
    flags = np.char.upper(np.asarray(galaxies["z_flag"], dtype=str))
    photometric = np.isin(flags, _PHOTOMETRIC_FLAGS) if drop_photometric else np.zeros(len(z), bool)
    in_window = has_z & (z >= z_min) & (z <= z_max)
    keep = is_galaxy & in_window & ~photometric
    dropped = {
        "not_galaxies": int((~is_galaxy).sum()),
        "galaxies_without_redshift": int((is_galaxy & ~has_z).sum()),
        "photometric_redshifts": int((is_galaxy & has_z & photometric).sum()),
        "outside_velocity_window": int((is_galaxy & has_z & ~photometric & ~in_window).sum()),
    }
    log.info(
        f"NED: kept {keep.sum()} of {len(z)} objects; dropped "
        + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in dropped.items())
    )
    out = galaxies[keep]
    out.meta["ned_dropped"] = dropped
    return out


def _query_ned(center, radius, timeout):
    """The network call: one NED cone search (patched in the tests)."""
    from astroquery.ipac.ned import Ned

    old = Ned.TIMEOUT
    Ned.TIMEOUT = timeout
    try:
        return Ned.query_region(center, radius=radius)
    finally:
        Ned.TIMEOUT = old


def _call_ned(center, radius, timeout):
    import requests
    from astroquery.exceptions import RemoteServiceError, TableParseError

    try:
        return _query_ned(center, radius, timeout)
    except (requests.exceptions.Timeout, TimeoutError) as exc:
        raise NEDTimeoutError(
            f"NED did not answer within {timeout} s ({exc}). Try again later, raise"
            " clustermass.conf.ned_timeout, or use ClusterMass.from_table with your own galaxies."
        ) from None
    except (requests.exceptions.ConnectionError, OSError) as exc:
        raise OfflineError(
            f"NED cannot be reached ({type(exc).__name__}). Check the network, or use an"
            " offline snapshot (Coma, A1689) or ClusterMass.from_table."
        ) from None
    except (RemoteServiceError, TableParseError, ValueError) as exc:
        raise NEDServiceError(
            f"NED returned an error or a reply that is not a VOTable ({exc}). This is usually"
            " transient: try again later."
        ) from None


def _cache_key(center, radius, z_min, z_max):
    payload = {
        "v": _CACHE_VERSION,
        "ra": round(float(center.icrs.ra.deg), 6),
        "dec": round(float(center.icrs.dec.deg), 6),
        "radius_arcmin": round(float(radius.to_value(u.arcmin)), 4),
        "z_min": round(float(z_min), 7),
        "z_max": round(float(z_max), 7),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def _read_cache(path):
    try:
        return QTable.read(path, format="ascii.ecsv")
    except Exception as exc:  # a corrupt file of any kind: refetch
        log.warning(f"Ignoring unreadable NED cache file {path} ({exc}); querying NED again.")
        return None


def _write_atomic(table, path):
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def query_region(center, *, redshift, r_max=1.6 * R_UNIT, v_max=2500 * V_UNIT, cosmology=None,
                 cache=None, timeout=None):
    """Galaxies with redshifts in a cylinder around a cluster, from NED.

    A cone search around ``center`` with the angle that ``r_max`` subtends at
    the cluster redshift (plus 2 %), keeping galaxies whose rest-frame velocity
    lies within ``+-v_max`` of the cluster.

    Parameters
    ----------
    center : `~astropy.coordinates.SkyCoord`
        Cluster centre.
    redshift : float
        Cluster redshift.
    r_max : `~astropy.units.Quantity` ['length' / littleh], optional
        Projected radius to cover (default 1.6 h^-1 Mpc).
    v_max : `~astropy.units.Quantity` ['speed'], optional
        Half-width of the velocity window (default 2500 km/s, Ho et al. 2019).
    cosmology : `~astropy.cosmology.Cosmology`, optional
        Default Planck13.
    cache : bool, optional
        Use the on-disk cache; default ``clustermass.conf.ned_cache``.
    timeout : float, optional
        Seconds; default ``clustermass.conf.ned_timeout``.

    Returns
    -------
    galaxies : `~astropy.table.QTable`
        As `parse_ned_table`, selected by `select_galaxies`, with the query
        (centre, radius, window, date, schema, versions) in ``meta``.

    Raises
    ------
    NEDTimeoutError, OfflineError, NEDServiceError
    """
    from . import __version__, conf

    if not isinstance(center, SkyCoord):
        raise InvalidInputError("center must be a SkyCoord (NED is queried by coordinates)")
    cache = conf.ned_cache if cache is None else cache
    timeout = conf.ned_timeout if timeout is None else timeout
    radius = (angular_radius(r_max, redshift, cosmology=cosmology) * 1.02).to(u.arcmin)
    z_min, z_max = redshift_window(redshift, v_max)
    path = cache_dir() / f"cone_{_cache_key(center, radius, z_min, z_max)}.ecsv"
    if cache and path.exists():
        cached = _read_cache(path)
        if cached is not None:
            log.info(f"NED: using cached reply {path}")
            return cached
    raw = _call_ned(center, radius, timeout)
    galaxies = select_galaxies(parse_ned_table(raw), z_min=z_min, z_max=z_max)
    galaxies.meta.update({
        "service": "NASA/IPAC Extragalactic Database (NED) via astroquery",
        "query_ra_deg": float(center.icrs.ra.deg),
        "query_dec_deg": float(center.icrs.dec.deg),
        "query_radius_arcmin": float(radius.value),
        "query_z_min": float(z_min),
        "query_z_max": float(z_max),
        "query_date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "clustermass_version": __version__,
        "acknowledgement": "This research has made use of the NASA/IPAC Extragalactic Database"
                           " (NED), operated by the California Institute of Technology.",
    })
    if cache:
        _write_atomic(galaxies, path)
    return galaxies
