"""The reference clusters of Kodi Ramanah et al. (2020) and their offline snapshots.

`reference_clusters` lists the eight clusters of the paper's Table 1 (Coma,
A1689, A85, A119, A576, A1651, A2142, A2670) with centres, redshifts, the
paper's flow masses and the literature masses it compares with, each value
with its source (``clustermass/data/reference_clusters.ecsv``; provenance in
the repository's ``data/README.rst``). `get_cluster` finds one by any of its
names.

Two clusters have galaxy snapshots shipped with the package, so that
clustermass works without NED (`load_snapshot`, `snapshot_source`):

* Coma: the projected phase space (R, v) of SDSS DR20 galaxies extracted by
  the RCausticMass project (Dailer F. Morell 2026, MIT licence);
* A1689: Hectospec Cluster Survey redshifts (Rines et al. 2013, ApJ 767, 15).
"""

import difflib
import functools
import re
from importlib import resources

from astropy import units as u
from astropy.cosmology import units as cu
from astropy.table import QTable

from .exceptions import UnknownClusterError

__all__ = ["reference_clusters", "get_cluster", "load_snapshot", "snapshot_source", "SNAPSHOTS"]

#: Offline galaxy snapshots shipped in ``clustermass/data/snapshots/``, by
#: reference-cluster name (built by the repository's ``data/make_snapshots.py``).
SNAPSHOTS = {"Coma": "coma_sdss.ecsv", "A1689": "a1689_hecs.ecsv"}


def _key(name):
    """Normalise a cluster name: case, spaces, punctuation, 'Abell'/'ACO', 'cluster'."""
    k = re.sub(r"[\s_\-.]+", "", str(name).lower())
    k = re.sub(r"(?<=.)cluster$", "", k)
    return re.sub(r"^(abell|aco|a)0*(\d)", r"a\2", k)


def _read_ecsv(*parts):
    # Snapshots hold radii in h^-1 Mpc, which needs astropy's little-h unit enabled.
    path = resources.files("clustermass").joinpath("data", *parts)
    with path.open("r", encoding="utf-8") as f, u.add_enabled_units(cu):
        return QTable.read(f.read(), format="ascii.ecsv")


@functools.cache
def _table():
    return _read_ecsv("reference_clusters.ecsv")


@functools.cache
def _index():
    index = {}
    for i, row in enumerate(_table()):
        for alias in [row["name"], *str(row["aliases"]).split(";")]:
            if alias.strip():
                index.setdefault(_key(alias), (i, alias.strip()))
    return index


def reference_clusters():
    """The eight clusters of Kodi Ramanah et al. (2020, Table 1).

    Returns
    -------
    table : `~astropy.table.QTable`
        A fresh copy, one row per cluster: ``name``, ``aliases`` (separated by
        ``;``), the centre ``ra``, ``dec`` (deg) with ``position_source`` and
        ``position_verified``, the ``redshift`` with ``redshift_source`` and
        ``redshift_verified``, the paper's flow mass ``log_m200c_flow_paper``
        and ``log_m200c_flow_paper_err``, and the literature mass
        ``log_m200c_lit`` with ``log_m200c_lit_err_plus``,
        ``log_m200c_lit_err_minus``, ``log_m200c_lit_err`` (the larger) and
        ``lit_reference``. Masses are log10[M200c / (h^-1 Msun)], errors in
        dex. Each column's meaning is in its ``description``. Where a
        ``*_verified`` flag is False the value is approximate and could not be
        checked when the table was made.

    Examples
    --------
    >>> from clustermass.clusters import reference_clusters
    >>> t = reference_clusters()
    >>> print(", ".join(t["name"]))
    Coma, A1689, A85, A119, A576, A1651, A2142, A2670
    >>> print(t["name", "log_m200c_flow_paper", "log_m200c_lit"][:2])
     name log_m200c_flow_paper log_m200c_lit
    ----- -------------------- -------------
     Coma                14.95         14.91
    A1689                14.91         15.05
    """
    return _table().copy()


def get_cluster(name):
    """One reference cluster, by name or alias.

    Parameters
    ----------
    name : str
        The name or an alias of a reference cluster: ``"Coma"``, ``"A1656"``,
        ``"Abell 1656"``, ``"ACO 1656"``, ``"abell1689"``... Case, spaces,
        an ``Abell``/``ACO``/``A`` prefix and a trailing ``cluster`` do not
        matter.

    Returns
    -------
    row : `~astropy.table.Row`
        The cluster's row of `reference_clusters` (from a copy, so changing it
        changes nothing else); index it like a dict, e.g. ``row["ra"]``.

    Raises
    ------
    UnknownClusterError
        If no reference cluster has that name; the message lists the known
        names and the closest matches.

    Examples
    --------
    >>> from clustermass.clusters import get_cluster
    >>> coma = get_cluster("abell 1656")
    >>> print(coma["name"], coma["ra"], coma["redshift"])
    Coma 194.93502 deg 0.0231
    """
    key = _key(name)
    index = _index()
    if key not in index:
        names = [str(n) for n in _table()["name"]]
        suggestions = {}
        for match in difflib.get_close_matches(key, list(index), n=3, cutoff=0.6):
            i, alias = index[match]
            suggestions.setdefault(names[i], names[i] if alias == names[i] else
                                   f"{names[i]} ({alias})")
        hint = ""
        if suggestions:
            *first, last = suggestions.values()
            hint = f" Did you mean {', '.join(first) + ' or ' if first else ''}{last}?"
        raise UnknownClusterError(
            f"unknown cluster {name!r}; the reference clusters are {', '.join(names)}.{hint}"
        )
    return reference_clusters()[index[key][0]]


@functools.cache
def _snapshot(filename):
    return _read_ecsv("snapshots", filename)


def load_snapshot(name):
    """The offline galaxy table shipped for a cluster, or `None` if there is none.

    Parameters
    ----------
    name : str
        A reference-cluster name or alias (see `get_cluster`). Names that are
        not reference clusters give `None`, like clusters without a snapshot.

    Returns
    -------
    table : `~astropy.table.QTable` or None
        A fresh copy. Coma: the projected phase space, ``R`` (h^-1 Mpc) and
        ``v`` (km/s) about the snapshot's own centre and redshift (1743 rows).
        A1689: ``ra``, ``dec`` (deg), ``redshift`` (heliocentric, cz/c), ``cz``
        and ``cz_err`` (km/s), ``xcorr_r``, ``quality`` and ``hecs_member``
        (HeCS membership, for checks only; 499 rows). ``meta`` holds
        ``cluster``, ``cluster_redshift``, ``source``, ``citation``,
        ``licence``, ``notes`` and the SHA-256 of the source file.

    Examples
    --------
    >>> from clustermass.clusters import load_snapshot
    >>> coma = load_snapshot("Coma")
    >>> len(coma), coma["R"].unit, coma.meta["cluster_redshift"]
    (1743, Unit("Mpc / littleh"), 0.0235)
    >>> load_snapshot("A85") is None
    True
    """
    try:
        cname = str(get_cluster(name)["name"])
    except UnknownClusterError:
        return None
    if cname not in SNAPSHOTS:
        return None
    return _snapshot(SNAPSHOTS[cname]).copy()


def snapshot_source(name):
    """Where a cluster's offline snapshot comes from, in one line.

    Parameters
    ----------
    name : str
        A reference-cluster name or alias.

    Returns
    -------
    source : str
        The snapshot's ``meta['source']``, or ``"no offline snapshot"``.

    Examples
    --------
    >>> from clustermass.clusters import snapshot_source
    >>> print(snapshot_source("A1689"))
    Hectospec Cluster Survey (HeCS) redshifts in the field of Abell 1689 (Rines, ...)
    """
    table = load_snapshot(name)
    if table is None:
        return "no offline snapshot"
    return str(table.meta["source"])
