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

The parsing and selection live in the private module ``clustermass._nedtable``
(so that neither file exceeds ~600 lines) and are re-exported here: they are
part of this module's public interface.
"""

import contextlib
import hashlib
import inspect
import json
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import QTable

from . import _nedtable
from ._io import atomic_path
from ._nedtable import conform, parse_ned_table, select_galaxies
from ._units import R_UNIT, V_UNIT, check_redshift, value_in
from .exceptions import InvalidInputError, NEDServiceError, NEDTimeoutError, OfflineError
from .logger import log
from .phasespace import angular_radius, redshift_window, resolve_cosmology

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
GALAXY_TYPES = _nedtable.GALAXY_TYPES

#: Redshift flags of the legacy NED service for values that were not measured
#: from a spectrum: ``PHOT`` (photometric), ``SED`` (spectral energy
#: distribution), ``EST`` (estimated), ``PRED`` (predicted), ``MOD``
#: (modelled), ``LUM`` (from an assumed luminosity of a brightest cluster
#: galaxy), ``MFA`` (matched-filter algorithm), ``TOMO`` (lensing tomography).
#: Kept: blank (usually a reliable spectroscopic value), ``:`` and ``?``
#: (uncertain), ``1LIN`` (single line), ``TENT`` (tentative), ``SN`` (from a
#: supernova's expansion velocity). Source: NED's database guide
#: (https://ned.ipac.caltech.edu/Documents/Guides/Database).
NON_SPECTROSCOPIC_FLAGS = _nedtable.NON_SPECTROSCOPIC_FLAGS

#: First letter ("technique") of the new API's redshift flags for values not
#: measured from a spectrum: ``P`` (photometric), ``M`` (modelled), ``I``
#: (inferred). Kept: ``S`` (spectroscopic), ``L`` (several techniques), ``U``
#: (unknown, mostly older literature values).
NON_SPECTROSCOPIC_TECHNIQUES = _nedtable.NON_SPECTROSCOPIC_TECHNIQUES

#: Letters 2-3 ("method") of the new API's redshift flags for estimates that
#: are not spectroscopic whatever the technique letter says: ``FO``
#: (friends of friends), ``LE`` (lensing model), ``LU`` (assumed luminosity),
#: ``MF`` (matched filter), ``ML`` (machine learning), ``SE`` (spectral energy
#: distribution), ``TO`` (lensing tomography).
NON_SPECTROSCOPIC_METHODS = _nedtable.NON_SPECTROSCOPIC_METHODS

#: Columns of the tables that `parse_ned_table`, `select_galaxies` and
#: `query_region` return, with their units (`None`: no unit) and meaning.
COLUMNS = _nedtable.COLUMNS

#: Bump when the layout of cached files or the parsing changes.
_CACHE_VERSION = 2
#: Relative margin added to the cone radius, so that galaxies just at r_max
#: are not lost to rounding in NED's own distance computation.
_RADIUS_MARGIN = 0.02
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
        return conform(table)
    except Exception as exc:  # a damaged file of any kind (YAML, ECSV, units): refetch
        log.warning(
            f"Ignoring the unreadable NED cache file {path} ({type(exc).__name__}: {exc});"
            " querying NED again."
        )
        return None


def _write_cache(table, path):
    """Write ``table`` as ECSV to ``path`` atomically (`clustermass._io.atomic_path`)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        table.write(f, format="ascii.ecsv")


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
    from ._config import conf

    if not isinstance(center, SkyCoord) or not center.isscalar:
        raise InvalidInputError(
            "center must be a scalar SkyCoord: NED is queried by coordinates, not by name"
            " (e.g. SkyCoord(194.935, 27.912, unit='deg'))"
        )
    try:
        z_c = check_redshift(redshift, "redshift")
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
                "r_max_mpc_h": float(np.asarray(value_in(r_max, R_UNIT, "r_max"))),
                "v_max_km_s": float(np.asarray(value_in(v_max, V_UNIT, "v_max"))),
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
                _write_cache(objects, path)
            except OSError as exc:
                log.warning(f"Could not write the NED cache file {path} ({exc}).")
    return select_galaxies(objects, z_min=z_min, z_max=z_max)


def _astroquery_version():
    try:
        from astroquery import __version__
    except ImportError:  # pragma: no cover
        return "unknown"
    return str(__version__)
