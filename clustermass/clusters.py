"""The reference clusters of Kodi Ramanah et al. (2020) and their offline snapshots.

`reference_clusters` lists the eight clusters of the paper's Table 1 with
centres, redshifts, the paper's flow masses and the literature masses, each
with its source (built by ``data/make_reference_clusters.py``). Two of them
have galaxy snapshots shipped with the package, so that clustermass works
offline:

* Coma: SDSS DR20 projected phase space (R, v) extracted by the RCausticMass
  project (D. F. Morell 2026, MIT licence);
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

__all__ = ["reference_clusters", "get_cluster", "load_snapshot", "snapshot_source",
           "SNAPSHOTS"]

#: Offline galaxy snapshots shipped with clustermass, by cluster name.
SNAPSHOTS = {"Coma": "coma_sdss.ecsv", "A1689": "a1689_hecs.ecsv"}


def _data_path(*parts):
    return resources.files("clustermass").joinpath("data", *parts)


def _key(name):
    """Normalise a cluster name: case, spaces and the Abell/ACO prefixes."""
    k = re.sub(r"[\s_\-]+", "", str(name).lower())
    return re.sub(r"^(abell|aco)", "a", k)


@functools.cache
def _table():
    return _read_ecsv("reference_clusters.ecsv")


def _read_ecsv(*parts):
    # Snapshots store radii in h^-1 Mpc, which needs astropy's little-h unit enabled.
    with _data_path(*parts).open("r") as f, u.add_enabled_units(cu):
        return QTable.read(f.read(), format="ascii.ecsv")


@functools.cache
def _index():
    index = {}
    for i, row in enumerate(_table()):
        for alias in [row["name"], *str(row["aliases"]).split(";")]:
            index[_key(alias)] = i
    return index


def reference_clusters():
    """The eight clusters of Kodi Ramanah et al. (2020, Table 1).

    Returns
    -------
    table : `~astropy.table.QTable`
        A copy: ``name, aliases, ra, dec, redshift``, the sources and
        verification flags of the centre and redshift, the paper's flow mass
        ``log_m200c_flow_paper`` (and ``_err``), the literature mass
        ``log_m200c_lit`` with its errors and ``lit_reference``.

    Examples
    --------
    >>> from clustermass.clusters import reference_clusters
    >>> t = reference_clusters()
    >>> print(", ".join(t["name"]))
    Coma, A1689, A85, A119, A576, A1651, A2142, A2670
    """
    return _table().copy()


def get_cluster(name):
    """One reference cluster by name or alias ("Coma", "A1656", "Abell 1689", ...).

    Raises
    ------
    UnknownClusterError
        With the known names and the closest matches.

    Examples
    --------
    >>> from clustermass.clusters import get_cluster
    >>> print(get_cluster("abell 1656")["name"])
    Coma
    """
    key = _key(name)
    index = _index()
    if key not in index:
        names = list(_table()["name"])
        close = difflib.get_close_matches(key, list(index), n=3, cutoff=0.6)
        close_names = sorted({_table()["name"][index[c]] for c in close})
        hint = f" Did you mean {', '.join(close_names)}?" if close_names else ""
        raise UnknownClusterError(
            f"unknown cluster {name!r}; the reference clusters are {', '.join(names)}.{hint}"
        )
    return _table()[index[key]]


def load_snapshot(name):
    """The shipped offline galaxy table of a cluster, or `None` if there is none.

    Returns
    -------
    table : `~astropy.table.QTable` or None
        Coma: columns ``R`` (h^-1 Mpc) and ``v`` (km/s); A1689: ``ra``, ``dec``,
        ``redshift`` and HeCS columns. Provenance is in ``meta``.
    """
    try:
        cname = get_cluster(name)["name"]
    except UnknownClusterError:
        return None
    if cname not in SNAPSHOTS:
        return None
    return _read_ecsv("snapshots", SNAPSHOTS[cname])


def snapshot_source(name):
    """A one-line description of where a cluster's snapshot comes from."""
    table = load_snapshot(name)
    if table is None:
        return "no offline snapshot"
    return table.meta["source"]
