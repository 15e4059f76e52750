"""Catalogue mode: weigh every cluster of a catalogue against one galaxy table.

`weigh_catalogue` takes a table of clusters (name, sky position, redshift)
and a table of galaxies (sky position, redshift or cz), finds each cluster's
galaxies in its phase-space window, and returns one row per cluster with the
posterior summaries of log10[M200c / (h^-1 Msun)], the number of galaxies in
the window, flags and a reason. A cluster that cannot be weighed gets a
flagged row with NaN masses, never an exception for the whole catalogue.

Each row is what `ClusterMass.from_table(...).infer(...)
<clustermass.core.ClusterMass.infer>` gives for that cluster: (R, v) come from
the same public functions (`~clustermass.phasespace.projected_radius`,
`~clustermass.phasespace.line_of_sight_velocity`), and flow posteriors are
computed in batches (`clustermass.flow.MassFlow.posteriors`).

Matching and memory: the galaxies are sorted by redshift once; clusters are
processed in chunks of ``chunk`` clusters in order of redshift. For each
chunk, a k-d tree (`scipy.spatial.cKDTree`) is built on the unit vectors of
only the galaxies inside the chunk's redshift slab (the union of the chunk's
redshift windows, `~clustermass.phasespace.redshift_window`), and each
cluster's candidates are those within the chord of the angle that ``r_max``
subtends at its redshift (`~clustermass.phasespace.angular_radius`). Beyond the
galaxy table itself, memory holds the sorted positions and redshifts (32 bytes
per galaxy) plus a tree over one slab.
"""

import contextlib
import datetime
import json
import os
import warnings

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import QTable, Table

from ._columns import COLUMN_ALIASES, column_values, find_column
from ._config import __version__
from ._io import atomic_path, file_sha256, progress_bar
from ._units import C_KMS, R_UNIT, V_UNIT
from .core import DEFAULT_PRIOR, MIN_GALAXIES, accepted_redshift_range
from .exceptions import (
    ClusterMassError,
    ClusterMassWarning,
    FewMembersWarning,
    InvalidInputError,
    ModelExtrapolationWarning,
    NoRedshiftsWarning,
    SupportEdgeWarning,
    warn_user,
)
from .models import load_model
from .phasespace import (
    line_of_sight_velocity,
    projected_radius,
    redshift_window,
    resolve_cosmology,
)
from .posterior import SUPPORT_EDGE_PROBABILITY, SUPPORT_EDGE_WIDTH, MassPosterior
from .priors import check_prior, reweight

__all__ = [
    "weigh_catalogue",
    "weigh_catalogue_files",
    "write_catalogue",
    "DEFAULT_CHUNK",
]

#: Clusters matched and weighed together (one k-d tree, one batch of posteriors).
DEFAULT_CHUNK = 1000

_EXPECTED = ("columns 'ra' and 'dec' (degrees) and 'redshift' (or 'z'), or velocities 'cz'"
             " (km/s) in place of redshifts; names are matched case-insensitively")
# Relative padding of the search radius and redshift slab: candidates are a
# superset of the window, which is then cut exactly on (R, v).
_PAD = 1e-6


# -- reading the input tables ----------------------------------------------
def _positions_and_redshifts(table, what):
    if not isinstance(table, Table):
        raise InvalidInputError(f"{what} must be an astropy Table or QTable, got"
                                f" {type(table).__name__}")
    names = {key: find_column(table, key) for key in COLUMN_ALIASES}
    if names["ra"] is None or names["dec"] is None or (
            names["redshift"] is None and names["cz"] is None):
        raise InvalidInputError(f"the {what} table needs {_EXPECTED}; it has {table.colnames}")
    ra, _ = column_values(table, names["ra"], u.deg, what=what, stacklevel=4)
    dec, _ = column_values(table, names["dec"], u.deg, what=what, stacklevel=4)
    if names["redshift"] is not None:
        z, blank = column_values(table, names["redshift"], u.dimensionless_unscaled, what=what,
                                  stacklevel=4)
    else:
        # z = cz / c, as ClusterMass.from_table
        cz, blank = column_values(table, names["cz"], V_UNIT, what=what, stacklevel=4)
        z = cz / C_KMS
    return names, ra, dec, z, blank


def _read_galaxies(galaxies):
    names, ra, dec, z, blank = _positions_and_redshifts(galaxies, "galaxies")
    bad_pos = ~(np.isfinite(ra) & np.isfinite(dec))
    bad_z = ~np.isfinite(z)
    if bad_z.any():
        warn_user(f"dropped {bad_z.sum()} of {len(z)} galaxies without a redshift"
                  f" ({blank.sum()} blank, {(bad_z & ~blank).sum()} NaN)",
                  NoRedshiftsWarning, stacklevel=3)
    if (bad_pos & ~bad_z).any():
        warn_user(f"dropped {(bad_pos & ~bad_z).sum()} of {len(z)} galaxies with NaN or blank"
                  " positions", ClusterMassWarning, stacklevel=3)
    keep = ~(bad_pos | bad_z)
    if keep.any() and np.max(np.abs(z[keep])) > 20:
        zname = names["redshift"] or names["cz"]
        raise InvalidInputError(
            f"galaxy column {zname!r} holds values up to {np.max(z[keep]):.0f}: that looks like"
            " velocities; name the column 'cz' (km/s) or give redshifts")
    return ra, dec, z, keep


def _read_clusters(clusters):
    names, ra, dec, z, _ = _positions_and_redshifts(clusters, "clusters")
    if names["name"] is not None:
        col = clusters[names["name"]]
        label = [str(x) for x in (np.ma.filled(col, "") if hasattr(col, "mask") else col)]
    else:
        label = [f"row {i}" for i in range(len(clusters))]
    reason = np.full(len(ra), "", dtype=object)
    bad_pos = ~(np.isfinite(ra) & np.isfinite(dec)) | (np.abs(dec) > 90)
    reason[bad_pos] = "no valid position (ra, dec)"
    bad_z = ~bad_pos & ~(np.isfinite(z) & (z > 0))
    reason[bad_z] = "the cluster redshift is not a positive number"
    return label, ra, dec, z, reason


# -- model properties --------------------------------------------------------
def _training_ranges(model):
    """Accepted redshifts and numbers of galaxies of a flow, each ``(lo, hi)`` or None.

    Redshifts: `~clustermass.core.accepted_redshift_range`,
    the range outside which `ClusterMass.infer <clustermass.core.ClusterMass.infer>`
    warns. Galaxies in the window: `~clustermass.flow.MassFlow.n_galaxies_range`.
    """
    n_rng = getattr(model, "n_galaxies_range", None)
    return accepted_redshift_range(model), n_rng


def _model_meta(model):
    meta = getattr(model, "meta", None) or {}
    out = {"model": getattr(model, "name", str(model))}
    if meta.get("path"):
        out["model_path"] = meta["path"]
        with contextlib.suppress(OSError):
            out["model_sha256"] = file_sha256(os.path.join(meta["path"], "model.json"))
    if meta.get("trained"):
        out["model_trained"] = meta["trained"]
    return out


# -- matching ------------------------------------------------------------------
def _unit_vectors(ra_deg, dec_deg):
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    cd = np.cos(dec)
    return np.column_stack([cd * np.cos(ra), cd * np.sin(ra), np.sin(dec)])


class _Matcher:
    """Galaxies sorted by redshift; candidates of a chunk of clusters from one slab tree."""

    def __init__(self, ra, dec, z, keep, grid, cosmology):
        idx = np.flatnonzero(keep)
        order = idx[np.argsort(z[idx], kind="stable")]
        self.order = order  # original row of each sorted galaxy
        self.ra, self.dec, self.z = ra[order], dec[order], z[order]
        self.grid = grid
        self.cosmology = cosmology

    def candidates(self, ra_c, dec_c, z_c):
        """For each cluster, positions (in the sorted arrays) of galaxies near its window,
        in the order of the input galaxy table."""
        r_max = self.grid.r_max.to_value(R_UNIT)
        d_a = self.cosmology.angular_diameter_distance(z_c).to_value(u.Mpc) * self.cosmology.h
        theta = np.minimum(r_max / d_a * (1 + _PAD), np.pi)  # angular_radius(r_max, z_c)
        chord = 2 * np.sin(theta / 2) * (1 + _PAD)
        windows = np.array([redshift_window(zc, self.grid.v_max) for zc in z_c])
        pad = _PAD * (windows[:, 1] - windows[:, 0]) + 1e-12
        z_lo, z_hi = windows[:, 0] - pad, windows[:, 1] + pad
        i0 = np.searchsorted(self.z, z_lo.min(), "left")
        i1 = np.searchsorted(self.z, z_hi.max(), "right")
        if i1 <= i0:
            return [np.zeros(0, np.int64) for _ in z_c]
        from scipy.spatial import cKDTree

        tree = cKDTree(_unit_vectors(self.ra[i0:i1], self.dec[i0:i1]), balanced_tree=False,
                       compact_nodes=False)
        found = tree.query_ball_point(_unit_vectors(ra_c, dec_c), r=chord,
                                      return_sorted=False)
        out = []
        for k, hits in enumerate(found):
            pos = i0 + np.asarray(hits, dtype=np.int64)
            zz = self.z[pos]
            pos = pos[(zz >= z_lo[k]) & (zz <= z_hi[k])]
            out.append(pos[np.argsort(self.order[pos], kind="stable")])
        return out

    def phase_space(self, pos, ra_c, dec_c, z_c):
        """(R, v) in h^-1 Mpc and km/s of the galaxies at ``pos``, as ClusterMass.from_table."""
        coords = SkyCoord(self.ra[pos] * u.deg, self.dec[pos] * u.deg)
        center = SkyCoord(ra_c * u.deg, dec_c * u.deg)
        R = projected_radius(coords, center, z_c, cosmology=self.cosmology).to_value(R_UNIT)
        v = line_of_sight_velocity(self.z[pos], z_c).to_value(V_UNIT)
        return R, v


# -- weighing --------------------------------------------------------------------
# Columns of the output, keys of MassPosterior.summary()
_FLOAT_COLUMNS = ("log10_m200c", "log10_m200c_std", "log10_m200c_median", "log10_m200c_16",
                  "log10_m200c_84")


class _Result:
    def __init__(self, n):
        self.values = {c: np.full(n, np.nan) for c in _FLOAT_COLUMNS}
        self.n_galaxies = np.zeros(n, np.int64)
        self.flags = {f: np.zeros(n, bool) for f in ("few_galaxies", "outside_training_range",
                                                     "support_edge", "failed")}
        self.reasons = [[] for _ in range(n)]

    def fail(self, i, reason):
        self.flags["failed"][i] = True
        self.reasons[i].append(reason)


def _attempt(function, *args, **kwargs):
    """(``function(*args, **kwargs)``, None), or (None, the message of a ClusterMassError)."""
    try:
        return function(*args, **kwargs), None
    except ClusterMassError as exc:
        return None, str(exc)


def _reweighted(post, prior, redshift, universe):
    # A flat posterior re-weighted at the cluster's redshift, as
    # MassFlow.posterior(..., prior=prior, redshift=redshift) does.
    x = post.log_mass_grid
    p = reweight(post.density, x, prior, redshift=float(redshift), universe=universe)
    return MassPosterior(x, p, method=post.method, meta={**post.meta, "prior": prior})


def _flow_posteriors(model, hists, redshifts, prior):
    """Posteriors of a batch of histograms: [(MassPosterior or None, error or None)]."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelExtrapolationWarning)  # flagged per row instead
        # (the redshifts only matter to a flow that conditions on them)
        kw = ({"redshift": np.asarray(redshifts, float)}
              if getattr(model, "conditions_on_redshift", False) else {})
        out, err = _attempt(model.posteriors, hists, prior="flat", **kw)
        out = [(p, None) for p in out] if err is None else [  # find the clusters that fail
            _attempt(model.posterior, h, prior="flat", **(
                {"redshift": z} if kw else {})) for h, z in zip(hists, redshifts, strict=True)]
    if prior == "flat":
        return out
    return [(p, e) if p is None else _attempt(_reweighted, p, prior, z, model.training_universe)
            for (p, e), z in zip(out, redshifts, strict=True)]


def _record(result, i, post, z_c, ranges):
    s = post.summary()
    for col in _FLOAT_COLUMNS:
        result.values[col][i] = s[col]
    z_rng, n_rng = ranges
    n = result.n_galaxies[i]
    outside = []
    if z_rng and not z_rng[0] <= z_c <= z_rng[1]:
        outside.append(f"redshift {z_c:.4f} outside the accepted range"
                       f" [{z_rng[0]:.3f}, {z_rng[1]:.3f}]"
                       + (f" (training redshifts -+{z_rng[4]})" if z_rng[4] else ""))
    if n_rng and not n_rng[0] <= n <= n_rng[1]:
        outside.append(f"{n} galaxies in the window, outside the training range"
                       f" [{n_rng[0]:.0f}, {n_rng[1]:.0f}]")
    if outside:
        result.flags["outside_training_range"][i] = True
        result.reasons[i].extend(outside)
    if post.at_support_edge:
        lo, hi = post.support
        result.flags["support_edge"][i] = True
        result.reasons[i].append(f"the posterior piles up at an edge of its support"
                                 f" [{lo:.2f}, {hi:.2f}]")


def weigh_catalogue(clusters, galaxies, *, model=None, prior=None, cosmology=None,
                    chunk=DEFAULT_CHUNK, seed=0, n_bootstrap=1000, progress=None):
    """Weigh every cluster of a catalogue with the galaxies of one table.

    Parameters
    ----------
    clusters : `~astropy.table.Table` or `~astropy.table.QTable`
        One row per cluster: ``name`` (optional), ``ra``, ``dec`` (degrees or
        angle Quantities) and ``redshift`` (or ``z``; or ``cz`` in km/s).
        Column names are matched case-insensitively (``RA``, ``DEC``,
        ``RAJ2000``, ``Z`` work too).
    galaxies : `~astropy.table.Table` or `~astropy.table.QTable`
        One row per galaxy: ``ra``, ``dec`` and ``redshift`` (or ``z``), or
        ``cz`` (km/s; plain numbers are km/s). Rows without a position or
        redshift are dropped with a warning.
    model : str, path-like or model, optional
        Anything `clustermass.models.load_model` accepts (default the
        shipped contaminated flow; ``"msigma"`` for M-sigma).
    prior : {'flat', 'mass_function'}, optional
        Prior of flow posteriors, as in `ClusterMass.infer
        <clustermass.core.ClusterMass.infer>` (default
        `~clustermass.core.DEFAULT_PRIOR`). ``'mass_function'`` evaluates the
        mass function at each cluster's redshift, which costs more per
        distinct redshift. Ignored by M-sigma.
    cosmology : `~astropy.cosmology.Cosmology`, optional
        Cosmology of the projection; default Planck13.
    chunk : int, optional
        Clusters matched and weighed together. Smaller chunks hold smaller
        redshift slabs of galaxies in memory.
    seed, n_bootstrap : int, optional
        M-sigma bootstrap, as in `ClusterMass.infer
        <clustermass.core.ClusterMass.infer>` (the same seed for every cluster).
    progress : bool, optional
        Show a progress bar (default ``clustermass.conf.show_progress``).

    Returns
    -------
    result : `~astropy.table.QTable`
        One row per cluster, in input order: ``name``, ``ra``, ``dec``,
        ``redshift``; ``log10_m200c`` (posterior mean), ``_std``, ``_median``,
        ``_16`` and ``_84`` (the 68.27 % interval), as `MassPosterior.summary
        <clustermass.posterior.MassPosterior.summary>`; ``n_galaxies`` in the
        window; ``flag_few_galaxies`` (< `~clustermass.core.MIN_GALAXIES`),
        ``flag_outside_training_range`` (redshift beyond the training
        redshifts (`~clustermass.core.accepted_redshift_range`), or
        galaxy count outside the training set's), ``flag_support_edge``
        (`MassPosterior.at_support_edge
        <clustermass.posterior.MassPosterior.at_support_edge>`), ``flag_failed``
        (no mass, NaN values) and ``reason`` (empty when no flag is set).
        ``meta``: provenance (versions, date, model, prior, cosmology, grid,
        matching rule, counts).

    Warns
    -----
    FewMembersWarning, ModelExtrapolationWarning, SupportEdgeWarning
        Once per catalogue, with the number of rows flagged (these replace
        the per-cluster warnings of `ClusterMass.infer
        <clustermass.core.ClusterMass.infer>`).
    NoRedshiftsWarning, UnitsAssumedWarning
        Galaxies without redshifts are dropped; columns without units are
        taken in degrees and km/s.

    Raises
    ------
    InvalidInputError
        A table is not a table or lacks the columns above, galaxy redshifts
        look like velocities, or an unknown prior or model.

    Examples
    --------
    The galaxies of the A1689 snapshot, and a copy of them moved by 40
    degrees in right ascension, weighed as two clusters with M-sigma:

    >>> import astropy.units as u
    >>> from astropy.table import QTable, vstack
    >>> from clustermass.clusters import load_snapshot
    >>> from clustermass.survey import weigh_catalogue
    >>> gal = load_snapshot("A1689")["ra", "dec", "redshift"]
    >>> moved = gal.copy()
    >>> moved["ra"] += 40 * u.deg
    >>> clusters = QTable({"name": ["A1689", "copy"], "ra": [197.875, 237.875] * u.deg,
    ...                    "dec": [-1.3353, -1.3353] * u.deg, "z": [0.1842, 0.1842]})
    >>> t = weigh_catalogue(clusters, vstack([gal, moved]), model="msigma")
    >>> t["log10_m200c"].info.format = ".3f"
    >>> t["name", "log10_m200c", "n_galaxies", "flag_failed"].pprint()
     name log10_m200c n_galaxies flag_failed
    ----- ----------- ---------- -----------
    A1689      14.982        143       False
     copy      14.982        143       False
    """
    started = datetime.datetime.now(datetime.UTC)
    model = load_model(model)
    grid = model.grid
    cosmo = resolve_cosmology(cosmology)
    is_flow = not hasattr(model, "posterior_from_velocities")
    prior = DEFAULT_PRIOR if prior is None else prior
    check_prior(prior)
    if int(chunk) != chunk or chunk < 1:
        raise InvalidInputError(f"chunk must be a positive integer, got {chunk!r}")
    chunk = int(chunk)
    names, ra_c, dec_c, z_c, reasons = _read_clusters(clusters)
    g_ra, g_dec, g_z, keep = _read_galaxies(galaxies)
    matcher = _Matcher(g_ra, g_dec, g_z, keep, grid, cosmo)
    del g_ra, g_dec, g_z
    ranges = _training_ranges(model) if is_flow else (None, None)

    n = len(names)
    result = _Result(n)
    for i in np.flatnonzero(reasons != ""):
        result.fail(i, reasons[i])
    todo = np.flatnonzero(reasons == "")
    todo = todo[np.argsort(z_c[todo], kind="stable")]
    method = None
    with progress_bar(progress, total=n, desc="weighing clusters", unit="cluster") as bar:
        bar.update(n - len(todo))
        for start in range(0, len(todo), chunk):
            rows = todo[start:start + chunk]
            cands = matcher.candidates(ra_c[rows], dec_c[rows], z_c[rows])
            index, radii, vels = [], [], []
            for k, (i, pos) in enumerate(zip(rows, cands, strict=True)):
                if pos.size == 0:
                    continue
                R, v = matcher.phase_space(pos, ra_c[i], dec_c[i], z_c[i])
                inside = grid.contains(R, v)
                result.n_galaxies[i] = int(inside.sum())
                index.append(np.full(inside.sum(), k))
                radii.append(R[inside])
                vels.append(v[inside])
            enough = result.n_galaxies[rows] >= MIN_GALAXIES
            for i in rows[~enough]:
                result.flags["few_galaxies"][i] = True
                result.fail(i, f"only {result.n_galaxies[i]} galaxies in the phase-space window"
                               f" (at least {MIN_GALAXIES} are needed)")
            if not enough.any():
                bar.update(len(rows))
                continue
            index = np.concatenate(index) if index else np.zeros(0, np.int64)
            radii = np.concatenate(radii) if radii else np.zeros(0)
            vels = np.concatenate(vels) if vels else np.zeros(0)
            ok = rows[enough]
            if is_flow:
                hists = grid.histograms(index, radii, vels, n_clusters=len(rows))[enough]
                posts = _flow_posteriors(model, hists, z_c[ok], prior)
            else:
                posts = [_attempt(model.posterior_from_velocities, vels[index == k] * V_UNIT,
                                  z_c[rows[k]], cosmology=cosmo, n_bootstrap=n_bootstrap,
                                  seed=seed) for k in np.flatnonzero(enough)]
            for i, (post, err) in zip(ok, posts, strict=True):
                if post is None:
                    result.fail(i, err)
                else:
                    method = method or post.method
                    _record(result, i, post, z_c[i], ranges)
            bar.update(len(rows))

    table = QTable()
    table["name"] = names
    table["ra"] = ra_c * u.deg
    table["dec"] = dec_c * u.deg
    table["redshift"] = z_c
    for col in _FLOAT_COLUMNS:
        table[col] = result.values[col]
        table[col].description = "log10[M200c / (h^-1 Msun)]"
    table["n_galaxies"] = result.n_galaxies
    for flag, values in result.flags.items():
        table[f"flag_{flag}"] = values
    table["reason"] = ["; ".join(r) for r in result.reasons]
    flags = {f: int(v.sum()) for f, v in result.flags.items()}
    for flag, what, category in (
            ("few_galaxies", f"have fewer than {MIN_GALAXIES} galaxies in the window and no"
             " mass", FewMembersWarning),
            ("outside_training_range", "lie outside the model's training range",
             ModelExtrapolationWarning),
            ("support_edge", "have posteriors that pile up at an edge of their support",
             SupportEdgeWarning)):
        if flags[flag]:
            warn_user(f"{flags[flag]} of {n} clusters {what} (flag_{flag})", category,
                      stacklevel=2)
    table.meta.update({
        "clustermass_version": __version__,
        "date": started.isoformat(timespec="seconds"),
        "method": method or (f"flow:{model.name}" if is_flow else model.name),
        **_model_meta(model),
        "prior": prior if is_flow else "none (M-sigma)",
        "cosmology": cosmo.name or repr(cosmo),
        "grid": json.dumps(grid.to_dict()),
        "matching": (f"galaxies with R < {grid.r_max:.4g} (R = h D_A(z_c) theta) and"
                     f" -{grid.v_max:.6g} <= v < {grid.v_max:.6g} (v = c (z - z_c) / (1 + z_c))"
                     " about each cluster, as ClusterMass.from_table"),
        "min_galaxies": MIN_GALAXIES,
        "accepted_redshift_range": ("none" if ranges[0] is None else
                                    "[{:.6g}, {:.6g}]".format(*ranges[0])),
        "support_edge": f"> {SUPPORT_EDGE_PROBABILITY:g} of the probability within"
                        f" {SUPPORT_EDGE_WIDTH:g} dex of an end of the support",
        "n_clusters": n,
        "n_galaxies_input": len(keep),
        "n_galaxies_used": int(keep.sum()),
        "n_weighed": int(n - flags["failed"]),
        **{f"n_flag_{f}": v for f, v in flags.items()},
    })
    if not is_flow:
        table.meta.update({"seed": seed, "n_bootstrap": n_bootstrap})
    return table


# -- files ---------------------------------------------------------------------
def _read_table(path, what):
    try:
        return QTable.read(path)
    except FileNotFoundError:
        raise InvalidInputError(f"{what} file {path!r} does not exist") from None
    except Exception as exc:  # astropy raises many kinds for unreadable files
        raise InvalidInputError(
            f"cannot read the {what} table {path!r} ({type(exc).__name__}: {exc}); give a"
            " file in a format that astropy.table reads (FITS, ECSV, CSV, ...)") from None


def write_catalogue(table, path, *, overwrite=False, format=None):
    """Write a table (e.g. from `weigh_catalogue`) to ``path`` atomically; returns ``path``.

    The format is ``format`` (an `astropy.table` format name, e.g. ``"fits"``,
    ``"ascii.ecsv"``) or guessed from the extension (``.fits``, ``.ecsv``,
    ``.csv``, ``.parquet`` where pyarrow is installed, ...); plain CSV keeps
    no ``meta``. Raises `~clustermass.exceptions.InvalidInputError` if the
    file exists and ``overwrite`` is false, or the format is unknown.
    """
    from astropy.io import registry
    from astropy.io.fits.verify import VerifyWarning

    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise InvalidInputError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    if format is None:
        formats = registry.identify_format("write", QTable, path, None, [], {})
        if len(formats) != 1:
            raise InvalidInputError(
                f"cannot tell the table format from the name {path!r}"
                f" ({'candidates: ' + ', '.join(formats) if formats else 'no match'});"
                " give it, e.g. format='fits' (--format fits)")
        format = formats[0]
    try:
        with atomic_path(path) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore", VerifyWarning)  # HIERARCH keywords in FITS
            table.write(tmp, format=format, overwrite=True)
    except (ValueError, TypeError, ImportError, registry.IORegistryError) as exc:
        raise InvalidInputError(f"cannot write {path!r} as {format!r}: {exc}") from None
    return path


def weigh_catalogue_files(clusters, galaxies, output, *, overwrite=False, format=None,
                          **kwargs):
    """`weigh_catalogue` on table files, writing the result to ``output``; returns it.

    ``clusters`` and ``galaxies`` are files that `astropy.table.QTable.read`
    reads (format from the extension); ``output``, ``overwrite`` and
    ``format`` go to `write_catalogue`, the other keywords to `weigh_catalogue`.
    """
    output = os.fspath(output)
    if os.path.exists(output) and not overwrite:  # fail before the work
        raise InvalidInputError(f"{output} exists; pass overwrite=True (--overwrite) to"
                                " replace it")
    table = weigh_catalogue(_read_table(clusters, "clusters"),
                            _read_table(galaxies, "galaxies"), **kwargs)
    table.meta["clusters_file"] = os.path.abspath(os.fspath(clusters))
    table.meta["galaxies_file"] = os.path.abspath(os.fspath(galaxies))
    write_catalogue(table, output, overwrite=overwrite, format=format)
    return table
