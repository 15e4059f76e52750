"""The mock observer of Ho et al. (2019) for simulation boxes: cylinders in projected
phase space.

For a host halo and a line of sight, Ho et al. (2019, ApJ 887, 25, section 2;
``mocks/make_mocks.py`` of McWilliamsCenter/halo_cnn) keep every galaxy inside
a cylinder of radius 1.6 h^-1 Mpc whose half-length is 2500 km/s in
line-of-sight velocity relative to the host. The velocity of a galaxy is the
one an observer at the host's redshift would see: Hubble flow and peculiar
velocities composed relativistically (`clustermass.mocks.geometry`).

*Pure* clusters keep only true members (galaxies inside the host's r200c, in
3D), *contaminated* clusters every galaxy in the cylinder; clusters with fewer
than 10 galaxies are dropped. `observe` applies this to any periodic box of
hosts and galaxies (e.g. MDPL2 Rockstar haloes and their subhaloes); the
synthetic universe (`clustermass.mocks.hosts`) uses the same velocity
composition.
"""

import numpy as np
from astropy import units as u
from astropy.cosmology import units as cu

from .._io import progress_bar
from .._units import C_KMS, R_UNIT, V_UNIT, value_in
from ..exceptions import InvalidInputError
from ..phasespace import resolve_cosmology
from ..priors import MDPL2_UNIVERSE
from .catalogue import MockCatalogue, cluster_columns
from .geometry import distance_table, random_sight_lines, relative_velocity

__all__ = ["observe"]

_AXES = {"x": np.array([1.0, 0.0, 0.0]), "y": np.array([0.0, 1.0, 0.0]),
         "z": np.array([0.0, 0.0, 1.0])}
_MASS_UNIT = u.Msun / cu.littleh


def _column(table, names, unit, what, required=True):
    for name in names:
        if name in table.colnames:
            col = table[name]
            if unit is None:
                return np.asarray(col)
            if getattr(col, "unit", None) is not None and not isinstance(col, u.Quantity):
                col = u.Quantity(col)
            with u.add_enabled_units(cu):
                return np.asarray(value_in(col, unit, f"{what} column {name!r}"), dtype=float)
    if required:
        raise InvalidInputError(f"{what} table needs a column named one of {list(names)}")
    return None


def _los_vectors(los, n_hosts, n_los, seed):
    """Unit line-of-sight vectors, shape (n_hosts, n_los, 3)."""
    if isinstance(los, str):
        key = los.lower()
        if key in _AXES:
            return np.broadcast_to(_AXES[key], (n_hosts, 1, 3)).copy()
        if key == "random":
            rng = np.random.default_rng(seed)
            k = int(n_los)
            out = np.empty((n_hosts, k, 3))
            for i in range(n_hosts):
                out[i] = random_sight_lines(rng, k)
            return out
        raise InvalidInputError(f"los must be 'x', 'y', 'z', 'random' or vectors, got {los!r}")
    arr = np.asarray(los, dtype=float)
    if arr.shape == (3,):
        arr = np.broadcast_to(arr, (n_hosts, 1, 3))
    elif arr.ndim == 2 and arr.shape[1] == 3:
        arr = np.broadcast_to(arr[None], (n_hosts, *arr.shape))
    elif not (arr.ndim == 3 and arr.shape[0] == n_hosts and arr.shape[2] == 3):
        raise InvalidInputError("los vectors must have shape (3,), (n_los, 3) or"
                                " (n_hosts, n_los, 3)")
    norm = np.linalg.norm(arr, axis=-1, keepdims=True)
    if np.any(norm == 0) or not np.all(np.isfinite(arr)):
        raise InvalidInputError("line-of-sight vectors must be finite and non-zero")
    return arr / norm


def observe(hosts, galaxies, *, box_size, los="z", kind="contaminated",
            redshift=MDPL2_UNIVERSE.redshift, cosmology=None, aperture=1.6 * R_UNIT,
            velocity_cut=2500.0 * V_UNIT, min_galaxies=10, frame="comoving",
            membership="radius", n_los=3, seed=None, progress=None):
    """Cut mock clusters out of a periodic simulation box, as Ho et al. (2019) did.

    Parameters
    ----------
    hosts : `~astropy.table.Table`
        Host haloes, one row each, with columns ``id`` (or ``host_id``), ``x``,
        ``y``, ``z`` (comoving h^-1 Mpc), ``vx``, ``vy``, ``vz`` (peculiar,
        km/s), ``m200c`` (h^-1 Msun; or ``log_m200c``) and ``r200c`` (comoving
        h^-1 Mpc). Plain columns are taken to be in these units; columns with
        units are converted.
    galaxies : `~astropy.table.Table`
        Galaxies (subhaloes) with ``x``, ``y``, ``z``, ``vx``, ``vy``, ``vz``
        and, for ``membership='host_id'``, ``host_id`` (the id of the host they
        belong to, e.g. Rockstar's ``upid``).
    box_size : float or `~astropy.units.Quantity`
        Side of the periodic box (comoving h^-1 Mpc).
    los : {'x', 'y', 'z', 'random'} or array-like
        Lines of sight: a box axis, ``'random'`` (``n_los`` Fibonacci directions
        per host with a random orientation; one random direction if
        ``n_los=1``), one vector, ``(n_los, 3)`` vectors for every host or
        ``(n_hosts, n_los, 3)``.
    kind : {'contaminated', 'pure'}
        Every galaxy in the cylinder, or only the true members in it.
    redshift : float
        Redshift of the snapshot (default: MDPL2 snapshot 120,
        ``clustermass.priors.MDPL2_UNIVERSE.redshift``).
    cosmology : `~astropy.cosmology.Cosmology`, optional
        Default Planck13 (MDPL2's).
    aperture : `~astropy.units.Quantity`, optional
        Cylinder radius (default 1.6 h^-1 Mpc), in ``frame`` units.
    velocity_cut : `~astropy.units.Quantity`, optional
        Cylinder half-length in velocity (default 2500 km/s).
    min_galaxies : int, optional
        Clusters with fewer galaxies are dropped (default 10).
    frame : {'comoving', 'physical'}
        Projected radii (and the aperture) in comoving box units, as Ho et al.
        did, or in physical h^-1 Mpc, as ``D_A theta h`` for real clusters.
    membership : {'radius', 'host_id'}
        True members: galaxies within r200c of the host (3D distance), or the
        galaxies whose ``host_id`` is the host's id.
    n_los : int, optional
        Lines of sight per host for ``los='random'``.
    seed : int, optional
        Seed of the random lines of sight.
    progress : bool, optional
        Show a progress bar (default ``clustermass.conf.show_progress``).

    Returns
    -------
    catalogue : `~clustermass.mocks.MockCatalogue`
        Clusters and their galaxies (R in ``frame`` h^-1 Mpc, v in km/s). The
        galaxy table also has ``galaxy_index``, the row of each galaxy in
        ``galaxies`` (not kept by `~clustermass.mocks.MockCatalogue.write`);
        ``origin`` is 1 for true members and 255 otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import Table
    >>> from clustermass.mocks import observe
    >>> rng = np.random.default_rng(0)
    >>> hosts = Table({'id': [7], 'x': [50.], 'y': [50.], 'z': [50.], 'vx': [0.], 'vy': [0.],
    ...                'vz': [0.], 'm200c': [1e14], 'r200c': [0.8]})
    >>> pos = 50 + rng.normal(0, 0.3, (40, 3))
    >>> gals = Table({'x': pos[:, 0], 'y': pos[:, 1], 'z': pos[:, 2],
    ...               'vx': rng.normal(0, 500, 40), 'vy': rng.normal(0, 500, 40),
    ...               'vz': rng.normal(0, 500, 40)})
    >>> cat = observe(hosts, gals, box_size=100.0, los='z', progress=False)
    >>> len(cat), int(cat.clusters['host_id'][0])
    (1, 7)
    """
    from scipy.spatial import cKDTree

    if kind not in ("contaminated", "pure"):
        raise InvalidInputError(f"kind must be 'pure' or 'contaminated', got {kind!r}")
    if frame not in ("comoving", "physical"):
        raise InvalidInputError(f"frame must be 'comoving' or 'physical', got {frame!r}")
    if membership not in ("radius", "host_id"):
        raise InvalidInputError(f"membership must be 'radius' or 'host_id', got {membership!r}")
    box = float(value_in(box_size, R_UNIT, "box_size"))
    if not (np.isfinite(box) and box > 0):
        raise InvalidInputError(f"box_size must be positive, got {box_size}")
    zc = float(redshift)
    if not 0 < zc < 2:
        raise InvalidInputError(f"redshift must be in (0, 2), got {redshift}")
    cosmo = resolve_cosmology(cosmology)
    ap = float(value_in(aperture, R_UNIT, "aperture"))
    vcut = float(value_in(velocity_cut, V_UNIT, "velocity_cut"))
    if ap <= 0 or vcut <= 0:
        raise InvalidInputError("aperture and velocity_cut must be positive")
    if int(min_galaxies) != min_galaxies or min_galaxies < 1:
        raise InvalidInputError("min_galaxies must be a positive integer")
    to_com = (1.0 + zc) if frame == "physical" else 1.0
    ap_com = ap * to_com

    hid = _column(hosts, ("id", "host_id", "rockstarId"), None, "hosts")
    hpos = np.column_stack([_column(hosts, (c,), R_UNIT, "hosts") for c in "xyz"])
    hvel = np.column_stack([_column(hosts, (c,), V_UNIT, "hosts") for c in ("vx", "vy", "vz")])
    m200 = _column(hosts, ("m200c", "M200c"), _MASS_UNIT, "hosts", required=False)
    if m200 is None:
        m200 = 10 ** _column(hosts, ("log_m200c",), None, "hosts").astype(float)
    r200 = _column(hosts, ("r200c", "R200c"), R_UNIT, "hosts")
    gpos = np.column_stack([_column(galaxies, (c,), R_UNIT, "galaxies") for c in "xyz"])
    gvel = np.column_stack([_column(galaxies, (c,), V_UNIT, "galaxies")
                            for c in ("vx", "vy", "vz")])
    ghost = None
    if membership == "host_id":
        ghost = _column(galaxies, ("host_id", "upid", "upId"), None, "galaxies")
    for name, arr in (("host positions", hpos), ("host velocities", hvel),
                      ("galaxy positions", gpos), ("galaxy velocities", gvel),
                      ("m200c", m200), ("r200c", r200)):
        if not np.all(np.isfinite(arr)):
            raise InvalidInputError(f"{name} contain NaN or infinite values")
    nh = len(hid)
    hpos = np.mod(hpos, box)
    gpos = np.mod(gpos, box)

    lvec = _los_vectors(los, nh, n_los, seed)
    hubble = 100.0 * float(cosmo.efunc(zc))
    # largest line-of-sight speeds (3D speeds for random directions)
    if isinstance(los, str) and los.lower() in _AXES:
        k_los = "xyz".index(los.lower())
        vmax_g = float(np.max(np.abs(gvel[:, k_los]))) if len(gvel) else 0.0
        vmax_h = float(np.max(np.abs(hvel[:, k_los]))) if nh else 0.0
    elif not isinstance(los, str) and nh and np.all(lvec == lvec[:1]):
        vecs = lvec[0]
        vmax_g = float(np.max(np.abs(gvel @ vecs.T))) if len(gvel) else 0.0
        vmax_h = float(np.max(np.abs(hvel @ vecs.T))) if nh else 0.0
    else:
        vmax_g = float(np.max(np.linalg.norm(gvel, axis=1))) if len(gvel) else 0.0
        vmax_h = float(np.max(np.linalg.norm(hvel, axis=1))) if nh else 0.0
    # comoving LOS reach: no galaxy beyond it can enter the velocity window
    reach = (1.0 + zc) * (vcut + vmax_g + vmax_h) / hubble * 1.05
    radius = float(np.hypot(reach, ap_com))
    if 2.0 * radius >= box:
        raise InvalidInputError(
            f"box_size {box} is too small: the cylinders reach {radius:.1f} h^-1 Mpc from the"
            " host and must fit in half the box for the periodic minimum image")
    tab = distance_table(zc, cosmo, half_width=max(0.08, 3 * reach * hubble / C_KMS / (1 + zc)))

    axis_los = isinstance(los, str) and los.lower() in _AXES
    if axis_los:
        k = "xyz".index(los.lower())
        keep_axes = [i for i in range(3) if i != k]
        tree = cKDTree(gpos[:, keep_axes], boxsize=box)
    else:
        tree = cKDTree(gpos, boxsize=box)
    tree3 = None if axis_los else tree

    rows, gal_parts = [], []
    bar = progress_bar(progress, total=nh, desc="observing hosts", unit="host", leave=False)
    try:
        for i in range(nh):
            if axis_los:
                cand = np.asarray(tree.query_ball_point(hpos[i, keep_axes], ap_com),
                                  dtype=np.int64)
            else:
                cand = np.asarray(tree.query_ball_point(hpos[i], radius), dtype=np.int64)
            d = gpos[cand] - hpos[i]
            d -= box * np.round(d / box)
            dist = np.linalg.norm(d, axis=1)
            if membership == "radius":
                is_mem = dist < r200[i]
                if tree3 is None:
                    tree3 = cKDTree(gpos, boxsize=box)
                n_vir = len(tree3.query_ball_point(hpos[i], r200[i]))
            else:
                is_mem = ghost[cand] == hid[i]
                n_vir = int(np.sum(ghost == hid[i]))
            for j, nvec in enumerate(lvec[i]):
                ell = d @ nvec
                R = np.sqrt(np.maximum(dist**2 - ell**2, 0.0)) / to_com
                v = relative_velocity(ell, gvel[cand] @ nvec, hvel[i] @ nvec, *tab)
                sel = (R < ap) & (np.abs(v) < vcut)
                if kind == "pure":
                    sel &= is_mem
                n = int(sel.sum())
                if n < min_galaxies:
                    continue
                cid = len(rows)
                rows.append({
                    "cluster_id": cid, "host_id": int(hid[i]), "host_index": i, "los_index": j,
                    "log_m200c": float(np.log10(m200[i])), "r200c": float(r200[i] / to_com),
                    "v200c": float(10.0 * hubble * r200[i] / (1.0 + zc)),
                    "concentration": np.nan, "n_galaxies": n,
                    "n_members": int(np.sum(sel & is_mem)), "n_virial": int(n_vir),
                    "los": nvec, "seed": -1 if seed is None else int(seed),
                })
                gal_parts.append((np.full(n, cid, np.int64), R[sel], v[sel], is_mem[sel],
                                  np.where(is_mem[sel], 1, 255).astype(np.uint8), cand[sel]))
            bar.update(1)
    finally:
        bar.close()
    clusters = cluster_columns(rows)
    if gal_parts:
        cols = [np.concatenate(p) for p in zip(*gal_parts, strict=True)]
    else:
        cols = [np.empty(0, np.int64), np.empty(0), np.empty(0), np.empty(0, bool),
                np.empty(0, np.uint8), np.empty(0, np.int64)]
    meta = {
        "source": "clustermass.mocks.observe",
        "kind": kind,
        "redshift": zc,
        "cosmology": getattr(cosmo, "name", None) or repr(cosmo),
        "box_size": box,
        "frame": frame,
        "membership": membership,
        "aperture": ap,
        "velocity_cut": vcut,
        "min_galaxies": int(min_galaxies),
        "los": los if isinstance(los, str) else "vectors",
        "seed": seed,
    }
    cat = MockCatalogue.from_arrays(clusters, *cols[:5], meta=meta)
    cat.galaxies["galaxy_index"] = cols[5]
    return cat
