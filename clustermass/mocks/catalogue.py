"""Mock catalogues: generation in seeded chunks, HDF5 files, and reading them back.

A catalogue holds many *clusters* (one host halo seen along one line of
sight) and their *galaxies* (projected radius R, line-of-sight velocity v,
true-member flag). Two splits are made as in Ho et al. (2019, ApJ 887, 25)
and Kodi Ramanah et al. (2020, MNRAS 499, 1985):

* ``train``: flat in log M200c. Hosts are drawn with a density proportional to
  1 / n_los(M) and each is seen along n_los(M) lines of sight, where
  n_los(M) = max(1, ceil(target / (dn/dlog M))): hosts commoner than the target
  density are down-sampled, rarer ones get extra lines of sight (Fibonacci
  directions), as Ho et al. did in MDPL2.
* ``test``: hosts follow the mass function, one line of sight each.

Every host has its own random stream,
``SeedSequence(seed, spawn_key=(split, host_index))``, so the catalogue does
not depend on how the work is split into chunks or processes: the same seed
gives the same bytes for any ``jobs``. Host ids carry the split, so no host is
in both splits. Files are written chunk by chunk to resizable HDF5 datasets
(memory stays flat) under a temporary name and moved into place at the end.

The catalogue builds on the synthetic universe (`clustermass.mocks.universe`,
`clustermass.mocks.hosts`); the observer of simulation boxes
(`clustermass.mocks.observer`) builds on the catalogue. The module is a little
longer than most (~735 lines) because it keeps the file format in one place:
the column definitions, the writer, the reader, the `MockCatalogue` that
holds the tables, and `generate`, which is the writer's only producer of
synthetic clusters (with the worker pool that must reproduce its bytes).
"""

import json
import os
import pathlib
from collections import deque

import numpy as np
from astropy import units as u
from astropy.cosmology import units as cu
from astropy.table import QTable

from .._io import atomic_path, progress_bar
from .._units import R_UNIT, V_UNIT
from ..exceptions import InvalidInputError
from ..logger import log
from ..phasespace import PhaseSpaceGrid
from .geometry import random_sight_lines
from .hosts import ORIGIN_NAMES, draw_host_mass, n_lines_of_sight, observe_host, realise_host
from .universe import NUISANCE_PARAMETERS, SyntheticUniverse

__all__ = ["generate", "load", "MockCatalogue", "simulate_host", "host_id", "cluster_columns",
           "KINDS", "SPLITS", "CLUSTER_COLUMNS", "GALAXY_COLUMNS", "NUISANCE_COLUMNS"]

KINDS = ("pure", "contaminated")
SPLITS = {"train": 0, "test": 1}
FORMAT = "clustermass-mock-catalogue"
FORMAT_VERSION = 1
#: Hosts per work unit. It does not change the result (every host has its own seed).
HOSTS_PER_CHUNK = 64

#: Columns of the cluster table: name, dtype, unit, description.
CLUSTER_COLUMNS = [
    ("cluster_id", "i8", None, "row of the cluster in this catalogue"),
    ("host_id", "i8", None, "unique id of the host halo (split, seed and host index)"),
    ("host_index", "i8", None, "index of the host in its random stream"),
    ("los_index", "i4", None, "index of the line of sight of this host"),
    ("log_m200c", "f8", None, "log10[M200c / (h^-1 Msun)]"),
    ("r200c", "f8", R_UNIT, "r200c of the host"),
    ("v200c", "f8", V_UNIT, "circular velocity at r200c"),
    ("concentration", "f8", None, "NFW concentration c200c of the host"),
    ("n_galaxies", "i4", None, "galaxies in the catalogue for this cluster"),
    ("n_members", "i4", None, "true members (inside r200c) among them"),
    ("n_virial", "i4", None, "galaxies inside the r200c sphere (3D), N_v"),
    ("los", "f8", None, "unit line-of-sight vector"),
    ("seed", "i8", None, "master seed of the catalogue"),
    # nuisance parameters of the cluster (SyntheticUniverse.nuisance_ranges); written when
    # the universe's nuisance priors are not the defaults, filled in by `load` otherwise
    ("richness_factor", "f8", None, "factor on the mean galaxy counts at fixed mass"),
    ("interloper_factor", "f8", None, "factor on the field and neighbour densities"),
    ("velocity_bias_mean", "f8", None, "mean velocity bias of the cluster's galaxies"),
    ("anisotropy", "f8", None, "beta_inf of the galaxies' velocity anisotropy"),
    ("redshift", "f8", None, "redshift of the cluster"),
]
#: Names of the columns of `CLUSTER_COLUMNS` that hold the nuisance parameters.
NUISANCE_COLUMNS = tuple(column for column, _ in NUISANCE_PARAMETERS.values())
#: Columns of the galaxy table: name, dtype, unit, description.
GALAXY_COLUMNS = [
    ("cluster_id", "i8", None, "cluster the galaxy belongs to"),
    ("R", "f4", R_UNIT, "projected radius"),
    ("v", "f4", V_UNIT, "line-of-sight velocity relative to the host"),
    ("member", "?", None, "true member: inside the host's r200c (3D)"),
    ("origin", "u1", None, "0 central, 1 satellite, 2 subgroup, 3 infall, 4 neighbour,"
                           " 5 field, 255 unknown"),
]


def host_id(seed, split, index):
    """Unique id of a synthetic host: split in bit 62, 22 bits of seed, 40 bits of index.

    Examples
    --------
    >>> from clustermass.mocks.catalogue import host_id
    >>> host_id(1, 'train', 5) != host_id(1, 'test', 5)
    True
    """
    return (SPLITS[split] << 62) | ((int(seed) & 0x3FFFFF) << 40) | int(index)


def _host_streams(seed, split, index):
    ss = np.random.SeedSequence(int(seed), spawn_key=(SPLITS[split], int(index)))
    a, b = ss.spawn(2)
    return np.random.default_rng(a), np.random.default_rng(b)


def simulate_host(t, seed, split, index, kind):
    """All mock clusters (lines of sight) of one synthetic host.

    Returns
    -------
    clusters : list of dict
    galaxies : list of tuple
        ``(R, v, member, origin)`` arrays per kept cluster.
    """
    rng_host, rng_env = _host_streams(seed, split, index)
    uni = t.universe
    nuisance = uni.draw_nuisance(rng_host)  # no random numbers when the priors are fixed
    t = t.for_cluster(nuisance)
    log_m = draw_host_mass(t, rng_host, split)
    n_los = n_lines_of_sight(t, log_m, split)
    host = realise_host(t, log_m, rng_host)
    directions = random_sight_lines(rng_host, n_los)
    clusters, galaxies = [], []
    scale = (1.0 + t.redshift) if uni.frame == "comoving" else 1.0
    for j, nhat in enumerate(directions):
        R, v, member, origin = observe_host(t, host, nhat, rng_env,
                                            environment=(kind == "contaminated"))
        if kind == "pure":
            R, v, member, origin = R[member], v[member], member[member], origin[member]
        if R.size < uni.min_galaxies:
            continue
        clusters.append({
            "host_id": host_id(seed, split, index), "host_index": int(index), "los_index": j,
            "log_m200c": host.log_m, "r200c": host.r200 * scale, "v200c": host.v200,
            "concentration": host.c, "n_galaxies": int(R.size),
            "n_members": int(member.sum()), "n_virial": host.n_virial, "los": nhat,
            "seed": int(seed), "richness_factor": t.richness_factor,
            "interloper_factor": t.interloper_factor, "velocity_bias_mean": t.velocity_bias_mean,
            "anisotropy": t.anisotropy, "redshift": t.redshift,
        })
        galaxies.append((R, v, member, origin))
    return clusters, galaxies


def _chunk(t, seed, split, kind, k):
    """Clusters of hosts [k * HOSTS_PER_CHUNK, (k + 1) * HOSTS_PER_CHUNK)."""
    rows, gals = [], []
    for index in range(k * HOSTS_PER_CHUNK, (k + 1) * HOSTS_PER_CHUNK):
        c, g = simulate_host(t, seed, split, index, kind)
        rows.extend(c)
        gals.extend(g)
    return rows, gals


_WORKER_TABLES = None


def _init_worker(tables):
    global _WORKER_TABLES
    _WORKER_TABLES = tables


def _worker_chunk(seed, split, kind, k):
    return _chunk(_WORKER_TABLES, seed, split, kind, k)


def _chunks(t, seed, split, kind, jobs):
    """Yield the chunks 0, 1, 2, ... in order (in parallel when jobs > 1)."""
    import sys

    k = 0
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if jobs > 1 and main_file is not None and not os.path.exists(main_file):
        # spawned workers re-import the main script; from stdin that is impossible
        log.warning(f"cannot start worker processes from {main_file!r}; using one process")
        jobs = 1
    if jobs == 1:
        while True:
            yield _chunk(t, seed, split, kind, k)
            k += 1
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")
    ex = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                             initargs=(t,))
    pending = deque()
    try:
        while True:
            while len(pending) < 2 * jobs:
                pending.append(ex.submit(_worker_chunk, seed, split, kind, k))
                k += 1
            yield pending.popleft().result()
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


class _Writer:
    """Append clusters and galaxies to resizable HDF5 datasets (deterministic bytes)."""

    def __init__(self, path, nuisance=False):
        import h5py

        # 'earliest' file format, no object timestamps: same input, same bytes.
        self.f = h5py.File(path, "w", libver=("earliest", "v110"), track_order=False)
        self.n_clusters = 0
        self.n_galaxies = 0
        self.dsets = {}
        for group, cols, chunk in (("clusters", CLUSTER_COLUMNS, 4096),
                                   ("galaxies", GALAXY_COLUMNS, 65536)):
            g = self.f.create_group(group)
            for name, dtype, unit, desc in cols:
                if name in NUISANCE_COLUMNS and not nuisance:
                    continue
                shape = (0, 3) if name == "los" else (0,)
                d = g.create_dataset(name, shape=shape, maxshape=(None, *shape[1:]), dtype=dtype,
                                     chunks=(chunk, *shape[1:]), compression="gzip",
                                     compression_opts=4, shuffle=True, track_times=False)
                d.attrs["description"] = desc
                if unit is not None:
                    d.attrs["unit"] = unit.to_string()
                self.dsets[(group, name)] = d

    def _append(self, group, name, values, start):
        d = self.dsets[(group, name)]
        values = np.asarray(values)
        d.resize((start + len(values), *d.shape[1:]))
        d[start:] = values

    def append(self, rows, gals):
        if not rows:
            return
        nc = len(rows)
        ids = np.arange(self.n_clusters, self.n_clusters + nc, dtype=np.int64)
        cols = cluster_columns(rows, first_id=self.n_clusters)
        for name, *_ in CLUSTER_COLUMNS:
            if ("clusters", name) in self.dsets:
                self._append("clusters", name, cols[name], self.n_clusters)
        counts = np.array([len(g[0]) for g in gals], dtype=np.int64)
        gcols = {
            "cluster_id": np.repeat(ids, counts),
            "R": np.concatenate([g[0] for g in gals]).astype(np.float32),
            "v": np.concatenate([g[1] for g in gals]).astype(np.float32),
            "member": np.concatenate([g[2] for g in gals]).astype(bool),
            "origin": np.concatenate([g[3] for g in gals]).astype(np.uint8),
        }
        for name, *_ in GALAXY_COLUMNS:
            self._append("galaxies", name, gcols[name], self.n_galaxies)
        self.n_clusters += nc
        self.n_galaxies += int(counts.sum())

    def abort(self):
        """Close the file after a failure (it is about to be deleted)."""
        try:
            self.f.close()
        except Exception:  # noqa: BLE001 - already closed or broken
            pass

    def close(self, meta):
        for key, value in meta.items():
            self.f.attrs[key] = value if isinstance(value, (int, float, str)) else json.dumps(
                value, sort_keys=True)
        self.f.close()


def _universe_meta(universe):
    """The universe's parameters for the catalogue metadata.

    With the default nuisance priors the ``*_range`` entries are left out, so
    that such catalogues are byte for byte those of earlier versions; `load`
    puts them back.
    """
    d = universe.to_dict()
    if universe.nuisance_is_default():
        for name in universe.nuisance_ranges():
            d.pop(f"{name}_range")
    return d


def _complete_nuisance(clusters, meta):
    """Add the universe's nuisance ranges and the nuisance columns where a catalogue lacks
    them (catalogues made with the default priors store neither)."""
    uni_meta = meta.get("universe")
    if not isinstance(uni_meta, dict):
        return
    try:
        uni = SyntheticUniverse.from_dict(uni_meta)
    except InvalidInputError:  # written by another version: leave it as it is
        return
    meta["universe"] = uni.to_dict()
    for name, value in uni.nuisance_nominal().items():
        column = NUISANCE_PARAMETERS[name][0]
        if column not in clusters.colnames:
            clusters[column] = np.full(len(clusters), value, dtype=float)


def cluster_columns(rows, first_id=0):
    """Columns (dict of arrays, as `CLUSTER_COLUMNS`) of cluster rows (dicts).

    ``cluster_id`` counts from ``first_id``; the other entries of each row are
    taken by name. The nuisance columns are left out unless the rows have them.
    """
    n = len(rows)
    out = {}
    for name, dtype, *_ in CLUSTER_COLUMNS:
        if name in NUISANCE_COLUMNS and not (rows and name in rows[0]):
            continue
        if name == "cluster_id":
            out[name] = np.arange(first_id, first_id + n, dtype=np.int64)
        elif name == "los":
            out[name] = (np.array([r["los"] for r in rows], dtype=float).reshape(n, 3))
        else:
            out[name] = np.array([r[name] for r in rows], dtype=dtype)
    return out


def _versions():
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("clustermass", "numpy", "scipy", "astropy", "colossus", "h5py"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:  # pragma: no cover
            out[pkg] = "unknown"
    return out


def _check_common(kind, split, n_clusters, seed, jobs):
    if kind not in KINDS:
        raise InvalidInputError(f"kind must be one of {KINDS}, got {kind!r}")
    if split not in SPLITS:
        raise InvalidInputError(f"split must be one of {tuple(SPLITS)}, got {split!r}")
    if isinstance(n_clusters, bool) or int(n_clusters) != n_clusters or n_clusters <= 0:
        raise InvalidInputError(f"n_clusters must be a positive integer, got {n_clusters!r}")
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise InvalidInputError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(jobs, bool) or int(jobs) != jobs or jobs < 1:
        raise InvalidInputError(f"jobs must be a positive integer, got {jobs!r}")


def _write_clusters(writer, tables, *, seed, split, kind, jobs, n_clusters, progress):
    """Append the first ``n_clusters`` clusters to ``writer``; return the hosts drawn."""
    bar = progress_bar(progress, total=n_clusters, desc=f"{kind} {split} mocks",
                       unit="cluster", leave=False)
    n_hosts = 0
    rows = []
    try:
        gen = _chunks(tables, seed, split, kind, jobs)
        try:
            for rows, gals in gen:
                need = n_clusters - writer.n_clusters
                if len(rows) > need:
                    rows, gals = rows[:need], gals[:need]
                writer.append(rows, gals)
                bar.update(len(rows))
                n_hosts += HOSTS_PER_CHUNK
                if writer.n_clusters >= n_clusters:
                    break
        finally:
            gen.close()
    finally:
        bar.close()
    return (int(rows[-1]["host_index"]) + 1) if rows else n_hosts


def generate(output, *, kind, split, n_clusters, seed, jobs=1, progress=None,
             overwrite=False, universe=None, **params):
    """Generate a mock catalogue from the synthetic universe and write it to HDF5.

    Parameters
    ----------
    output : str or path-like
        The HDF5 file to write (written to a temporary file beside it, then moved).
    kind : {'pure', 'contaminated'}
        True members only, or every galaxy in the cylinder (Ho et al. 2019).
    split : {'train', 'test'}
        Flat in log M with extra lines of sight, or following the mass function.
    n_clusters : int
        Number of clusters (host x line of sight) to write.
    seed : int
        Master seed; the same seed gives the same file for any ``jobs``.
    jobs : int, optional
        Worker processes (1: in this process).
    progress : bool, optional
        Show a progress bar (default ``clustermass.conf.show_progress``).
    overwrite : bool, optional
        Replace ``output`` if it exists.
    universe : `SyntheticUniverse`, optional
        The parameters; default ``SyntheticUniverse()``.
    **params
        Overrides of `SyntheticUniverse` parameters.

    Returns
    -------
    path : `pathlib.Path`

    Examples
    --------
    >>> import tempfile, os
    >>> from clustermass.mocks import generate, load
    >>> path = os.path.join(tempfile.mkdtemp(), 'mocks.h5')
    >>> p = generate(path, kind='pure', split='test', n_clusters=5, seed=1,
    ...              progress=False)  # doctest: +IGNORE_OUTPUT
    >>> len(load(p))
    5
    """
    _check_common(kind, split, n_clusters, seed, jobs)
    output = pathlib.Path(os.fspath(output))
    if output.exists() and not overwrite:
        raise InvalidInputError(f"{output} exists; pass overwrite=True to replace it")
    if not output.parent.is_dir():
        raise InvalidInputError(f"cannot write {output}: {output.parent} is not a directory")
    if not os.access(output.parent, os.W_OK):
        raise InvalidInputError(f"cannot write {output}: {output.parent} is not writable")
    unknown = sorted(set(params) - set(SyntheticUniverse.parameter_names()))
    if unknown:
        raise InvalidInputError(f"unknown mock parameters: {unknown}; see"
                                " SyntheticUniverse().describe()")
    if universe is None:
        universe = SyntheticUniverse(**params)
    elif not isinstance(universe, SyntheticUniverse):
        raise InvalidInputError("universe must be a SyntheticUniverse")
    elif params:
        universe = universe.replace(**params)
    tables = universe.tables()
    n_clusters, seed, jobs = int(n_clusters), int(seed), int(jobs)
    log.debug(f"generating {n_clusters} {kind} {split} mock clusters (seed {seed}, "
              f"{jobs} job{'s' if jobs > 1 else ''}) -> {output}")
    with atomic_path(output) as tmp:
        try:
            writer = _Writer(tmp, nuisance=not universe.nuisance_is_default())
        except OSError as exc:
            raise InvalidInputError(f"cannot write {output}: {exc}") from exc
        try:
            n_hosts = _write_clusters(writer, tables, seed=seed, split=split, kind=kind,
                                      jobs=jobs, n_clusters=n_clusters, progress=progress)
            meta = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "source": "clustermass.mocks.generate (synthetic universe)",
                "kind": kind,
                "split": split,
                "seed": seed,
                "n_clusters": writer.n_clusters,
                "n_galaxies": writer.n_galaxies,
                "n_hosts_drawn": n_hosts,
                "redshift": universe.redshift,
                "cosmology": tables.cosmology_name,
                "frame": universe.frame,
                "universe": _universe_meta(universe),
                "versions": _versions(),
                "reference": "Ho et al. 2019, ApJ 887, 25; Kodi Ramanah et al. 2020, MNRAS"
                             " 499, 1985",
            }
            if not universe.nuisance_is_default():
                meta["nuisance_priors"] = {k: list(v)
                                           for k, v in universe.nuisance_ranges().items()}
            writer.close(meta)
        except BaseException:
            writer.abort()
            raise
    log.info(f"wrote {output}: {meta['n_clusters']} clusters, {meta['n_galaxies']} galaxies")
    return output


class MockCatalogue:
    """Mock clusters and their galaxies in projected phase space.

    Parameters
    ----------
    clusters : `~astropy.table.QTable`
        One row per cluster (``cluster_id``, ``host_id``, ``log_m200c``,
        ``r200c``, ``n_galaxies``, ``los``, ``seed``, ...).
    galaxies : `~astropy.table.QTable`
        One row per galaxy (``cluster_id``, ``R``, ``v``, ``member``, ``origin``),
        grouped by cluster.
    meta : dict
        Generator parameters, versions, kind, split, seed.

    Examples
    --------
    >>> import numpy as np
    >>> from clustermass.mocks import MockCatalogue
    >>> from clustermass.phasespace import PhaseSpaceGrid
    >>> cat = MockCatalogue.from_arrays(
    ...     {'cluster_id': np.array([0]), 'host_id': np.array([3]),
    ...      'log_m200c': np.array([14.2])},
    ...     np.zeros(3, int), np.array([0.1, 0.5, 1.2]), np.array([10., -300., 900.]),
    ...     np.array([True, True, False]), np.array([1, 1, 5], np.uint8))
    >>> cat.histograms(PhaseSpaceGrid(n_r=4, n_v=4)).sum()
    np.float32(3.0)
    """

    def __init__(self, clusters, galaxies, meta=None):
        self.clusters = QTable(clusters)
        self.galaxies = QTable(galaxies)
        self.meta = dict(meta or {})

    @classmethod
    def from_arrays(cls, cluster_cols, cluster_id, R, v, member, origin, meta=None):
        """Build a catalogue from plain arrays.

        Parameters
        ----------
        cluster_cols : dict of array-like
            Cluster columns by name (see `CLUSTER_COLUMNS`, e.g. from
            `cluster_columns`); those with a unit there get it.
        cluster_id, R, v, member, origin : array-like
            One entry per galaxy: its cluster, projected radius (h^-1 Mpc),
            line-of-sight velocity (km/s), true-member flag and origin code.
        meta : dict, optional
        """
        clusters = QTable()
        units = {name: unit for name, _, unit, _ in CLUSTER_COLUMNS}
        for name, values in cluster_cols.items():
            values = np.asarray(values)
            unit = units.get(name)
            clusters[name] = values * unit if unit is not None else values
        galaxies = QTable()
        galaxies["cluster_id"] = np.asarray(cluster_id, dtype=np.int64)
        galaxies["R"] = np.asarray(R, dtype=np.float32) * R_UNIT
        galaxies["v"] = np.asarray(v, dtype=np.float32) * V_UNIT
        galaxies["member"] = np.asarray(member, dtype=bool)
        galaxies["origin"] = np.asarray(origin, dtype=np.uint8)
        return cls(clusters, galaxies, meta)

    # -- description -----------------------------------------------------------------
    def __len__(self):
        return len(self.clusters)

    def __repr__(self):
        kind = self.meta.get("kind", "?")
        split = self.meta.get("split", "?")
        return (f"MockCatalogue(kind={kind!r}, split={split!r}, n_clusters={len(self)},"
                f" n_galaxies={len(self.galaxies)})")

    @property
    def log_mass(self):
        """log10[M200c / (h^-1 Msun)] of each cluster (ndarray)."""
        return np.asarray(self.clusters["log_m200c"], dtype=float)

    @property
    def redshift(self):
        """Redshift of each cluster (ndarray)."""
        return np.asarray(self.clusters["redshift"], dtype=float)

    @property
    def host_id(self):
        """Host halo id of each cluster (ndarray); lines of sight of a host share it."""
        return np.asarray(self.clusters["host_id"])

    @property
    def n_galaxies(self):
        """Galaxies per cluster (ndarray)."""
        return np.asarray(self._galaxy_index()[1])

    @property
    def origin_names(self):
        """Meaning of the ``origin`` codes of the galaxy table."""
        return dict(ORIGIN_NAMES, **{255: "unknown"})

    def _galaxy_index(self):
        """(row of each galaxy's cluster, galaxies per cluster)."""
        ids = np.asarray(self.clusters["cluster_id"])
        gid = np.asarray(self.galaxies["cluster_id"])
        order = np.argsort(ids, kind="stable")
        pos = np.searchsorted(ids[order], gid)
        pos = np.clip(pos, 0, max(len(ids) - 1, 0))
        if gid.size and not np.all(ids[order][pos] == gid):
            raise InvalidInputError("galaxies refer to clusters that are not in the catalogue")
        rows = order[pos] if ids.size else pos
        counts = np.bincount(rows, minlength=len(ids))
        return rows, counts

    def group_slices(self):
        """Galaxies grouped by cluster row.

        Returns
        -------
        order, starts, stops : `~numpy.ndarray`
            The galaxies ``order[starts[i]:stops[i]]`` (rows of the galaxy
            table) belong to the cluster in row ``i``.
        """
        rows, counts = self._galaxy_index()
        order = np.argsort(rows, kind="stable")
        stops = np.cumsum(counts)
        return order, stops - counts, stops

    def cluster(self, i):
        """The galaxies (`~astropy.table.QTable`) of the cluster in row ``i``."""
        cid = self.clusters["cluster_id"][i]
        return self.galaxies[np.asarray(self.galaxies["cluster_id"]) == cid]

    def thinned(self, fraction, *, seed=None):
        """A copy of the catalogue with each cluster's galaxies randomly thinned.

        Mimics a shallower or incomplete redshift survey of the same clusters
        (random galaxy loss). It is how the depth-matched comparison of flows is
        made (``clustermass evaluate --thin 0.5 1``): every estimator then sees
        the same, thinned galaxies.

        Parameters
        ----------
        fraction : float or (float, float)
            Probability that a galaxy is kept, ``0 < fraction <= 1``; or a
            range ``(lo, hi)``, in which case each cluster draws its own
            probability uniformly in it.
        seed : int, optional
            Seed of the draws (the same seed keeps the same galaxies).

        Returns
        -------
        catalogue : `MockCatalogue`
            The same clusters (rows and columns, ``n_galaxies`` recounted)
            with fewer galaxies; ``meta["thinned"]`` records ``fraction`` and
            ``seed``, and the column ``keep_fraction`` each cluster's probability.

        Examples
        --------
        >>> import numpy as np
        >>> from clustermass.mocks import MockCatalogue
        >>> cat = MockCatalogue.from_arrays(
        ...     {'cluster_id': np.array([0, 1]), 'host_id': np.array([3, 4]),
        ...      'log_m200c': np.array([14.2, 14.5])},
        ...     np.repeat([0, 1], 500), np.full(1000, 0.5), np.zeros(1000),
        ...     np.ones(1000, bool), np.ones(1000, np.uint8))
        >>> half = cat.thinned(0.5, seed=1)
        >>> 400 < len(half.galaxies) < 600
        True
        """
        lo, hi = _thin_range(fraction)
        rng = np.random.default_rng(seed)
        p = rng.uniform(lo, hi, len(self)) if hi > lo else np.full(len(self), lo)
        rows, _ = self._galaxy_index()
        keep = rng.random(rows.size) < p[rows]
        clusters = self.clusters.copy()
        clusters["keep_fraction"] = p
        galaxies = self.galaxies[keep]
        if "n_galaxies" in clusters.colnames:
            clusters["n_galaxies"] = np.bincount(rows[keep], minlength=len(self)).astype(
                np.asarray(clusters["n_galaxies"]).dtype)
        meta = dict(self.meta, thinned={"fraction": [lo, hi], "seed": seed})
        return type(self)(clusters, galaxies, meta)

    def histograms(self, grid=None, *, thin=None, seed=None):
        """Phase-space histograms of all clusters on ``grid``.

        Parameters
        ----------
        grid : `~clustermass.phasespace.PhaseSpaceGrid`, optional
            Default ``PhaseSpaceGrid()`` (50 x 50, 1.6 h^-1 Mpc, 2200 km/s).
        thin : float, optional
            Keep each galaxy with this probability (0 < thin <= 1), e.g. to mimic
            incomplete spectroscopy.
        seed : int, optional
            Seed of the thinning.

        Returns
        -------
        hists : `~numpy.ndarray`
            float32, shape ``(n_clusters, n_r, n_v)``.
        """
        grid = PhaseSpaceGrid() if grid is None else grid
        if not isinstance(grid, PhaseSpaceGrid):
            raise InvalidInputError("grid must be a PhaseSpaceGrid")
        rows, _ = self._galaxy_index()
        R = np.asarray(self.galaxies["R"].to_value(R_UNIT), dtype=float)
        v = np.asarray(self.galaxies["v"].to_value(V_UNIT), dtype=float)
        if thin is not None:
            thin = float(thin)
            if not 0 < thin <= 1:
                raise InvalidInputError(f"thin must be in (0, 1], got {thin}")
            keep = np.random.default_rng(seed).random(R.size) < thin
            rows, R, v = rows[keep], R[keep], v[keep]
        return grid.histograms(rows, R, v, n_clusters=len(self))

    # -- persistence -------------------------------------------------------------------
    def write(self, path, *, overwrite=False):
        """Write to HDF5 in the format of `generate` (atomically)."""
        path = pathlib.Path(os.fspath(path))
        if path.exists() and not overwrite:
            raise InvalidInputError(f"{path} exists; pass overwrite=True to replace it")
        rows = []
        for row in self.clusters:
            d = {}
            for name, dtype, unit, _ in CLUSTER_COLUMNS:
                if name in self.clusters.colnames:
                    val = row[name]
                    d[name] = val.to_value(unit) if unit is not None and hasattr(val, "unit") \
                        else np.asarray(val)
                else:
                    d[name] = np.zeros(3) if name == "los" else (np.nan if dtype == "f8" else -1)
            rows.append(d)
        with atomic_path(path) as tmp:
            writer = _Writer(tmp, nuisance=any(c in self.clusters.colnames
                                               for c in NUISANCE_COLUMNS))
            try:
                self._write_galaxies(writer, rows)
            except BaseException:
                writer.abort()
                raise
        return path

    def _write_galaxies(self, writer, rows):
        """Append ``rows`` and this catalogue's galaxies to ``writer``, then close it."""
        gals = []
        gid = np.asarray(self.galaxies["cluster_id"])
        R = self.galaxies["R"].to_value(R_UNIT)
        v = self.galaxies["v"].to_value(V_UNIT)
        mem = np.asarray(self.galaxies["member"])
        org = np.asarray(self.galaxies["origin"]) if "origin" in self.galaxies.colnames \
            else np.full(len(gid), 255, np.uint8)
        for cid in np.asarray(self.clusters["cluster_id"]):
            sel = gid == cid
            gals.append((R[sel], v[sel], mem[sel], org[sel]))
        writer.append(rows, gals)
        meta = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "n_clusters": writer.n_clusters, "n_galaxies": writer.n_galaxies}
        meta.update({k: v for k, v in self.meta.items() if k not in meta})
        writer.close(meta)


def _thin_range(fraction):
    """``(lo, hi)`` from a keep probability or a range of them, checked."""
    try:
        r = np.atleast_1d(np.asarray(fraction, dtype=float))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"fraction must be a number or a pair, got {fraction!r}") from exc
    if r.size == 1:
        r = np.repeat(r, 2)
    if r.shape != (2,) or not (0 < r[0] <= r[1] <= 1):
        raise InvalidInputError(
            f"fraction must be a probability in (0, 1] or a range (lo, hi) of them with"
            f" lo <= hi, got {fraction!r}")
    return float(r[0]), float(r[1])


def load(path):
    """Read a mock catalogue written by `generate` (or `MockCatalogue.write`).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    catalogue : `MockCatalogue`

    Raises
    ------
    clustermass.exceptions.InvalidInputError
        If the file is missing or not a clustermass mock catalogue.
    """
    import h5py

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InvalidInputError(f"no such mock catalogue: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InvalidInputError(f"{path} is not an HDF5 file: {exc}") from exc
    with f:
        if f.attrs.get("format") != FORMAT:
            raise InvalidInputError(f"{path} is not a clustermass mock catalogue")
        version = int(f.attrs.get("format_version", 0))
        if version > FORMAT_VERSION:
            raise InvalidInputError(f"{path} has format version {version}; this clustermass"
                                    f" reads up to {FORMAT_VERSION}")
        meta = {}
        for key, value in f.attrs.items():
            if isinstance(value, bytes):
                value = value.decode()
            if isinstance(value, str) and value[:1] in "{[":
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            elif isinstance(value, np.generic):
                value = value.item()
            meta[key] = value
        tables = []
        with u.add_enabled_units(cu):
            for group, cols in (("clusters", CLUSTER_COLUMNS), ("galaxies", GALAXY_COLUMNS)):
                g = f[group]
                order = [c[0] for c in cols if c[0] in g] + sorted(
                    n for n in g if n not in {c[0] for c in cols})
                t = QTable()
                for name in order:
                    ds = g[name]
                    data = ds[()]
                    unit = ds.attrs.get("unit")
                    t[name] = data * u.Unit(unit) if unit else data
                tables.append(t)
    clusters, galaxies = tables
    _complete_nuisance(clusters, meta)
    return MockCatalogue(clusters, galaxies, meta)
