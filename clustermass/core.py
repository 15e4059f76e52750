"""`ClusterMass`: the galaxies of one cluster and the inference of its mass.

Build one from NED (`ClusterMass.from_ned`), from your own table of sky
positions and redshifts (`ClusterMass.from_table`) or from a projected phase
space that is already computed (`ClusterMass.from_phase_space`), then call
`ClusterMass.infer` to get a `~clustermass.posterior.MassPosterior`.

>>> from clustermass import ClusterMass
>>> cm = ClusterMass.from_ned("Coma")  # doctest: +SKIP
>>> cm.infer()  # doctest: +SKIP
"""

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.cosmology import units as cu
from astropy.table import QTable, Table

from . import models
from ._columns import column_values, find_column
from ._units import C_KMS, R_UNIT, V_UNIT, cluster_redshift, value_in
from .exceptions import (
    InvalidInputError,
    NEDError,
    NoRedshiftsWarning,
    OfflineError,
    OfflineSnapshotWarning,
    RedshiftExtrapolationWarning,
    SupportEdgeWarning,
    UnknownClusterError,
    warn_user,
)
from .logger import log
from .models import load_model
from .phasespace import (
    PhaseSpaceGrid,
    line_of_sight_velocity,
    projected_radius,
    resolve_cosmology,
)

__all__ = ["ClusterMass", "accepted_redshift_range", "MIN_GALAXIES", "DEFAULT_MODEL",
           "DEFAULT_PRIOR", "TRAINING_REDSHIFT_TOLERANCE"]

#: Fewest galaxies inside the phase-space window for which a mass is inferred
#: (the mock catalogues of Ho et al. 2019 drop clusters with fewer than 10).
MIN_GALAXIES = 10

#: What `ClusterMass.infer` uses when no model is given (`clustermass.models.DEFAULT_MODEL`).
DEFAULT_MODEL = models.DEFAULT_MODEL

#: The prior on log M of flow posteriors from `ClusterMass.infer`: the flows'
#: training prior, flat in log M, as in Kodi Ramanah et al. (2020). Under it the
#: shipped flows' 68 % and 95 % intervals cover the true mass of mock clusters
#: at the nominal rate in every mass bin (``clustermass evaluate``).
#: ``"mass_function"`` re-weights by the halo mass function (better calibrated
#: for clusters drawn at random from the cosmic population, not at fixed mass).
DEFAULT_PRIOR = "flat"

#: How far (in z) outside a flow's training redshifts `ClusterMass.infer`
#: accepts a cluster without a warning. Velocities at fixed M200c scale with h(z) M200c
#: (Evrard et al. 2008), a mass bias of order log10[E(z)/E(z_train)]: 0.021-0.023
#: dex at 0.117 -+ 0.1 in Planck13, about half the narrowest posterior widths
#: (user guide, "Inputs and units").
TRAINING_REDSHIFT_TOLERANCE = 0.1

def accepted_redshift_range(model):
    """The cluster redshifts a model accepts without a warning.

    A flow trained across redshifts accepts its training range
    (``model.training_redshift_range``); one trained at a single redshift
    accepts it -+ `TRAINING_REDSHIFT_TOLERANCE`.

    Returns
    -------
    accepted : tuple or None
        ``(lo, hi, z_min, z_max, tolerance)``, or `None` for a model without
        training redshifts (e.g. M-sigma).
    """
    z_range = getattr(model, "training_redshift_range", None)
    if z_range is None:
        universe = getattr(model, "training_universe", None)
        if universe is None:
            return None
        z_range = (universe.redshift, universe.redshift)
    z_min, z_max = (float(getattr(z, "value", z)) for z in z_range)
    tol = TRAINING_REDSHIFT_TOLERANCE if z_max - z_min < TRAINING_REDSHIFT_TOLERANCE else 0.0
    return max(z_min - tol, 0.0), z_max + tol, z_min, z_max, tol


class ClusterMass:
    """A galaxy cluster seen through its galaxies' projected phase space.

    Build one with a ``from_*`` constructor rather than directly.

    Parameters
    ----------
    galaxies : `~astropy.table.QTable`
        One row per galaxy, with at least ``R`` (h^-1 Mpc, or a physical
        length converted with the Hubble constant of ``cosmology``) and ``v``
        (km/s); ``ra``, ``dec`` and ``redshift`` when known. Columns without
        units are taken in h^-1 Mpc and km/s with a
        `~clustermass.exceptions.UnitsAssumedWarning`.
    redshift : float or `~astropy.units.Quantity` ['redshift']
        Cluster redshift, a finite number > 0 (required).
    name : str, optional
        Cluster name.
    center : `~astropy.coordinates.SkyCoord`, optional
        Cluster centre.
    cosmology : `~astropy.cosmology.Cosmology`, optional
        Cosmology used for the projection; default Planck13.
    source : str, optional
        Where the galaxies came from (for provenance).
    """

    _params = ("name", "redshift", "n_galaxies", "source")

    def __init__(self, galaxies, *, redshift, name=None, center=None, cosmology=None,
                 source=None):
        if not isinstance(galaxies, Table):
            raise InvalidInputError("galaxies must be an astropy Table or QTable")
        for col in ("R", "v"):
            if col not in galaxies.colnames:
                raise InvalidInputError(f"galaxies must have a {col!r} column")
        self.redshift = cluster_redshift(redshift)
        self.cosmology = resolve_cosmology(cosmology)
        self.galaxies = QTable(galaxies)
        self.galaxies["R"] = value_in(self.galaxies["R"], R_UNIT, "R",
                                      equivalencies=cu.with_H0(self.cosmology.H0),
                                      warn_plain=True) * R_UNIT
        self.galaxies["v"] = value_in(self.galaxies["v"], V_UNIT, "v", warn_plain=True) * V_UNIT
        self.name = None if name is None else str(name)
        self.center = center
        self.source = str(source or "user table")
        self.galaxies.meta.update(
            {"cluster": self.name, "redshift": self.redshift, "source": self.source,
             "cosmology": self.cosmology.name}
        )

    # -- constructors --------------------------------------------------------
    @classmethod
    def from_phase_space(cls, R, v, /, *, redshift, name=None, cosmology=None, source=None):
        """A cluster from projected radii and line-of-sight velocities.

        Parameters
        ----------
        R : `~astropy.units.Quantity` ['length' / littleh] or ['length']
            Projected radii in h^-1 Mpc (``u.Mpc / cu.littleh``), or in a
            physical length (``u.Mpc``, ``u.kpc``), converted to h^-1 Mpc with
            the Hubble constant of ``cosmology`` (R [h^-1 Mpc] = h R [Mpc]).
            Plain numbers are taken in h^-1 Mpc, with a
            `~clustermass.exceptions.UnitsAssumedWarning`.
        v : `~astropy.units.Quantity` ['speed']
            Rest-frame line-of-sight velocities. Plain numbers are taken in
            km/s, with a `~clustermass.exceptions.UnitsAssumedWarning`.
        redshift : float or `~astropy.units.Quantity` ['redshift']
            Cluster redshift, a finite number > 0. Required: the velocities
            were measured in the cluster's rest frame, so its redshift is
            known; M-sigma needs it for h(z), and flows check it against
            their training redshift.
        name : str, optional
            Cluster name.
        cosmology : `~astropy.cosmology.Cosmology`, optional
            Cosmology whose h converts physical radii; default Planck13.

        Raises
        ------
        InvalidInputError
            Radii or velocities in the wrong units, NaN, negative radii,
            velocities that look like redshifts, a missing or invalid redshift.

        Examples
        --------
        >>> import numpy as np
        >>> import astropy.units as u
        >>> from astropy.cosmology import units as cu
        >>> from clustermass import ClusterMass
        >>> rng = np.random.default_rng(0)
        >>> R = rng.uniform(0, 1.5, 200) * u.Mpc / cu.littleh
        >>> v = rng.normal(0, 900, 200) * u.km / u.s
        >>> ClusterMass.from_phase_space(R, v, redshift=0.05, name="toy")
        ClusterMass(name='toy', redshift=0.05, n_galaxies=194, source='phase space')
        """
        redshift = cluster_redshift(redshift)
        cosmology = resolve_cosmology(cosmology)
        if isinstance(v, u.Quantity) and v.unit.is_equivalent(
                u.one, equivalencies=cu.dimensionless_redshift()):
            raise InvalidInputError("v is dimensionless: give velocities in km/s, not redshifts")
        r = value_in(R, R_UNIT, "R", equivalencies=cu.with_H0(cosmology.H0), warn_plain=True)
        vv = value_in(v, V_UNIT, "v", warn_plain=True)
        if r.shape != vv.shape or r.ndim != 1:
            raise InvalidInputError(
                f"R and v must be 1-D with the same length, got shapes {r.shape} and {vv.shape}"
            )
        bad = ~(np.isfinite(r) & np.isfinite(vv))
        if bad.any():
            raise InvalidInputError(
                f"{bad.sum()} galaxies have NaN or infinite R or v; remove them first"
            )
        if np.any(r < 0):
            raise InvalidInputError("projected radii R must be non-negative")
        if r.size and np.all(np.abs(vv) < 5):
            raise InvalidInputError(
                "all velocities are below 5 km/s: they look like redshifts or velocities in"
                " units of c; give rest-frame velocities in km/s"
            )
        galaxies = QTable({"R": r * R_UNIT, "v": vv * V_UNIT})
        return cls(galaxies, redshift=redshift, name=name, cosmology=cosmology,
                   source=source or "phase space")

    @classmethod
    def from_table(cls, table, /, *, center, redshift, name=None, cosmology=None, source=None):
        """A cluster from a table of galaxy positions and redshifts.

        Parameters
        ----------
        table : `~astropy.table.Table` or `~astropy.table.QTable`
            Galaxy positions in columns ``ra``/``dec`` (degrees, or angle
            Quantities; common spellings such as ``RA``, ``RAJ2000`` work too)
            or a `~astropy.coordinates.SkyCoord` column ``coord``, and redshifts
            in ``redshift`` or ``z`` (or velocities ``cz`` in km/s).
            Blank (masked) redshifts are dropped with a
            `~clustermass.exceptions.NoRedshiftsWarning`.
            Columns without units are taken in degrees (positions) and km/s
            (``cz``) with a `~clustermass.exceptions.UnitsAssumedWarning`,
            unless the name spells the unit (``RA(deg)``, ``ra_deg``).
        center : `~astropy.coordinates.SkyCoord`
            Cluster centre.
        redshift : float or `~astropy.units.Quantity` ['redshift']
            Cluster redshift, a finite number > 0 (required).
        name : str, optional
        cosmology : `~astropy.cosmology.Cosmology`, optional
            Default Planck13.

        Raises
        ------
        InvalidInputError
            Missing columns, NaN positions, a centre without a redshift, a
            redshift that is not a positive number.
        """
        if not isinstance(table, Table):
            raise InvalidInputError("table must be an astropy Table or QTable")
        if not isinstance(center, SkyCoord):
            raise InvalidInputError("center must be a SkyCoord")
        if redshift is None:
            raise InvalidInputError(
                "a centre without a redshift: give the cluster redshift, e.g. redshift=0.0231"
            )
        zc = cluster_redshift(redshift)
        if "coord" in table.colnames and isinstance(table["coord"], SkyCoord):
            coords = table["coord"]
        else:
            ra_name, dec_name = find_column(table, "ra"), find_column(table, "dec")
            if ra_name is None or dec_name is None:
                raise InvalidInputError(
                    "the table needs sky positions: columns 'ra' and 'dec' (degrees) or a"
                    f" SkyCoord column 'coord'; it has {table.colnames}"
                )
            ra, _ = column_values(table, ra_name, u.deg)
            dec, _ = column_values(table, dec_name, u.deg)
            bad = ~(np.isfinite(ra) & np.isfinite(dec))
            if bad.any():
                raise InvalidInputError(
                    f"{bad.sum()} galaxies have NaN or blank positions; remove them first"
                )
            coords = SkyCoord(ra * u.deg, dec * u.deg)
        z_name = find_column(table, "redshift")
        cz_name = None
        if z_name is not None:
            z, blank = column_values(table, z_name, u.dimensionless_unscaled)
        else:
            cz_name = find_column(table, "cz")
            if cz_name is None:
                raise InvalidInputError(
                    "the table has no redshifts: it needs a 'redshift' (or 'z') column, or"
                    f" velocities 'cz' in km/s; it has {table.colnames}"
                )
            cz, blank = column_values(table, cz_name, V_UNIT)
            z = cz / C_KMS
        nan = ~np.isfinite(z) & ~blank
        if nan.any():
            raise InvalidInputError(
                f"{nan.sum()} galaxies have NaN redshifts; remove them or mask them"
            )
        if blank.any():
            warn_user(f"dropped {blank.sum()} of {len(table)} galaxies without a redshift",
                      NoRedshiftsWarning, stacklevel=2)
        keep = ~blank
        if keep.sum() == 0:
            raise InvalidInputError("no galaxy in the table has a redshift")
        if np.nanmax(np.abs(z[keep])) > 20:
            raise InvalidInputError(
                f"column {z_name!r} holds values up to {np.nanmax(z[keep]):.0f}: that looks like"
                " velocities; name the column 'cz' (km/s) or give redshifts"
            )
        coords = coords[keep]
        z = z[keep]
        R = projected_radius(coords, center, zc, cosmology=cosmology)
        v = line_of_sight_velocity(z, zc)
        galaxies = QTable({"ra": coords.ra.to(u.deg), "dec": coords.dec.to(u.deg),
                           "redshift": z, "R": R, "v": v})
        if "name" in table.colnames:
            galaxies.add_column(np.asarray(table["name"])[keep], name="name", index=0)
        return cls(galaxies, redshift=zc, name=name, center=center, cosmology=cosmology,
                   source=source or "user table")

    @classmethod
    def from_ned(cls, name_or_coord, /, *, redshift=None, cosmology=None, offline=False,
                 cache=None, timeout=None):
        """A cluster from NED: galaxies with redshifts around the cluster centre.

        NED is queried by coordinates (a cone covering 1.6 h^-1 Mpc at the
        cluster redshift), keeping galaxies within +-2500 km/s of the cluster
        (`clustermass.ned.query_region`). Replies are cached on disk.

        Parameters
        ----------
        name_or_coord : str or `~astropy.coordinates.SkyCoord`
            One of the reference clusters (`clustermass.clusters.reference_clusters`,
            e.g. ``"Coma"``, ``"A1689"``), or a centre.
        redshift : float or `~astropy.units.Quantity` ['redshift'], optional
            Cluster redshift (> 0); required with a
            `~astropy.coordinates.SkyCoord`, optional for a reference cluster
            (which has one).
        offline : bool, optional
            Do not try the network; use the shipped snapshot (and say so in
            the log, not with a warning, since it was asked for).
        cache, timeout
            Passed to `clustermass.ned.query_region`.

        Notes
        -----
        When NED cannot be reached and clustermass ships an offline snapshot of
        the cluster's galaxies (Coma: SDSS; A1689: HeCS), the snapshot is used
        and an `~clustermass.exceptions.OfflineSnapshotWarning` names its source.
        """
        from . import clusters

        if redshift is not None:
            redshift = cluster_redshift(redshift)
        name = None
        if isinstance(name_or_coord, str):
            try:
                ref = clusters.get_cluster(name_or_coord)
            except UnknownClusterError as exc:
                if redshift is None:
                    raise UnknownClusterError(
                        f"{exc} For another cluster give its centre and redshift:"
                        " ClusterMass.from_ned(SkyCoord(ra, dec, unit='deg'), redshift=z)."
                    ) from None
                center = cls._resolve_name(name_or_coord)
                name = name_or_coord
            else:
                name = str(ref["name"])
                center = SkyCoord(ref["ra"], ref["dec"], unit="deg")
                if redshift is None:
                    redshift = cluster_redshift(ref["redshift"])
        elif isinstance(name_or_coord, SkyCoord):
            center = name_or_coord
            if redshift is None:
                raise InvalidInputError(
                    "a centre without a redshift: give the cluster redshift, e.g."
                    " ClusterMass.from_ned(center, redshift=0.0231)"
                )
        else:
            raise InvalidInputError(
                f"name_or_coord must be a cluster name or a SkyCoord, got {name_or_coord!r}"
            )
        if not offline:
            from . import ned

            try:
                galaxies = ned.query_region(center, redshift=redshift, cosmology=cosmology,
                                            cache=cache, timeout=timeout)
            except (NEDError, OfflineError) as exc:
                snapshot = clusters.load_snapshot(name) if name else None
                if snapshot is None:
                    raise
                warn_user(
                    f"NED could not be reached ({exc}); using the offline snapshot of"
                    f" {name}: {clusters.snapshot_source(name)}",
                    OfflineSnapshotWarning, stacklevel=2,
                )
            else:
                return cls.from_table(galaxies, center=center, redshift=redshift, name=name,
                                      cosmology=cosmology, source="NED")
        else:
            snapshot = clusters.load_snapshot(name) if name else None
            if snapshot is None:
                raise OfflineError(
                    f"no offline snapshot ships for {name or 'this position'}; query NED"
                    " (offline=False) or use ClusterMass.from_table with your own galaxies"
                )
            log.info(f"Using the offline snapshot of {name}: {clusters.snapshot_source(name)}")
        return cls._from_snapshot(snapshot, name=name, center=center, redshift=redshift,
                                  cosmology=cosmology, source=clusters.snapshot_source(name))

    @classmethod
    def _from_snapshot(cls, snapshot, *, name, center, redshift, cosmology, source):
        if "R" in snapshot.colnames and "v" in snapshot.colnames:
            # Phase space measured about the snapshot's own centre and redshift.
            z = snapshot.meta.get("cluster_redshift", redshift)
            return cls.from_phase_space(snapshot["R"], snapshot["v"], redshift=z, name=name,
                                        cosmology=cosmology, source=source)
        return cls.from_table(snapshot, center=center, redshift=redshift, name=name,
                              cosmology=cosmology, source=source)

    @staticmethod
    def _resolve_name(name):
        try:
            return SkyCoord.from_name(name)
        except Exception as exc:  # astropy raises NameResolveError or network errors
            raise UnknownClusterError(
                f"cannot resolve {name!r} to a position ({exc}); give a SkyCoord instead"
            ) from None

    # -- properties ----------------------------------------------------------
    @property
    def n_galaxies(self):
        """Number of galaxies inside the default phase-space window."""
        return self.n_in_window(PhaseSpaceGrid())

    def n_in_window(self, grid):
        """Number of galaxies inside ``grid``'s window."""
        return int(grid.contains(self.galaxies["R"], self.galaxies["v"]).sum())

    def in_window(self, grid=None):
        """The galaxies inside the phase-space window of ``grid`` (default grid)."""
        grid = PhaseSpaceGrid() if grid is None else grid
        return self.galaxies[grid.contains(self.galaxies["R"], self.galaxies["v"])]

    def histogram(self, grid=None):
        """The phase-space histogram that a model on ``grid`` reads."""
        grid = PhaseSpaceGrid() if grid is None else grid
        return grid.histogram(self.galaxies["R"], self.galaxies["v"])

    def __repr__(self):
        def plain(value):  # numpy scalars as Python ones: 'Coma', not np.str_('Coma')
            return value.item() if isinstance(value, np.generic) else value

        args = ", ".join(f"{p}={plain(getattr(self, p))!r}" for p in self._params)
        return f"{type(self).__name__}({args})"

    # -- inference -----------------------------------------------------------
    def _check_enough(self, grid):
        n = self.n_in_window(grid)
        if n < MIN_GALAXIES:
            raise InvalidInputError(
                f"only {n} of {len(self.galaxies)} galaxies lie inside the phase-space window"
                f" (R < {grid.r_max}, |v| < {grid.v_max}); at least {MIN_GALAXIES} are"
                " needed. Check the centre, the cluster redshift and the units of R and v."
            )
        return n

    def _meta(self, grid, n):
        from ._config import __version__

        return {
            "cluster": self.name,
            "cluster_redshift": self.redshift,
            "n_galaxies": n,
            "source": self.source,
            "cosmology": self.cosmology.name,
            "h": float(self.cosmology.h),
            "mass_definition": "200c",
            "grid": grid.to_dict(),
            "clustermass_version": __version__,
        }

    def infer(self, model=None, /, *, prior=None, seed=0, n_bootstrap=1000):
        """The posterior of log10[M200c / (h^-1 Msun)] for this cluster.

        Parameters
        ----------
        model : str, path-like or `~clustermass.flow.MassFlow`, optional
            ``"msigma"`` for the Evrard et al. (2008) M-sigma relation,
            ``"contaminated"`` or ``"pure"`` for a shipped flow, the path of
            a saved model directory, or a `~clustermass.flow.MassFlow`
            (anything `clustermass.models.load_model` accepts). Default
            `~clustermass.models.DEFAULT_MODEL`.
        prior : {'flat', 'mass_function'}, optional
            Prior on log M of a flow's posterior (`DEFAULT_PRIOR` when not
            given). ``'flat'``: the flow's training prior, flat in log M over
            the training range, as in Kodi Ramanah et al. (2020); its
            intervals are calibrated at fixed true mass. ``'mass_function'``
            re-weights it by the halo mass function at the cluster's redshift
            (`clustermass.priors.reweight`), pulling poorly constrained masses
            towards the more common low masses (Eddington bias); calibrated
            for clusters drawn at random from the cosmic population. Ignored
            by M-sigma.
        seed : int, optional
            Seed of random steps (the M-sigma bootstrap).
        n_bootstrap : int, optional
            Bootstrap resamples for M-sigma.

        Returns
        -------
        posterior : `~clustermass.posterior.MassPosterior`

        Raises
        ------
        InvalidInputError
            Fewer than `~clustermass.core.MIN_GALAXIES` galaxies in the window.

        Warns
        -----
        RedshiftExtrapolationWarning
            A flow at a redshift farther than `TRAINING_REDSHIFT_TOLERANCE`
            from its ``training_redshift_range`` (else from its training
            universe's redshift); the accepted range is recorded in
            ``meta["accepted_redshift_range"]``.
        SupportEdgeWarning
            The posterior piles up at an edge of what the model can return
            (`~clustermass.posterior.MassPosterior.at_support_edge`, also in
            ``meta["at_support_edge"]``).
        """
        model = load_model(model)
        grid = model.grid
        n = self._check_enough(grid)
        meta = self._meta(grid, n)
        if hasattr(model, "posterior_from_velocities"):
            # An estimator that reads velocities (M-sigma), not the histogram.
            v = self.in_window(grid)["v"]
            post = model.posterior_from_velocities(
                v, self.redshift, cosmology=self.cosmology, n_bootstrap=n_bootstrap, seed=seed,
                meta=meta)
        else:
            z_range = self._check_training_redshift(model)
            prior = DEFAULT_PRIOR if prior is None else prior
            post = model.posterior(self.histogram(grid), prior=prior, redshift=self.redshift)
            post.meta.update(meta)
            if z_range is not None:
                post.meta["accepted_redshift_range"] = list(z_range)
        edge = post.at_support_edge
        post.meta["at_support_edge"] = edge
        if edge:
            lo, hi = post.support
            warn_user(
                f"the mass posterior of {self.name or 'the cluster'} piles up at an edge of"
                f" the masses {post.method} can return (log10 M200c in [{lo:.2f}, {hi:.2f}]"
                f" h^-1 Msun): median {post.median:.2f}; the true mass may lie beyond it",
                SupportEdgeWarning, stacklevel=2)
        return post

    def _check_training_redshift(self, model):
        """`accepted_redshift_range` of ``model``; warns when the cluster lies outside."""
        accepted = accepted_redshift_range(model)
        if accepted is None:
            return None
        lo, hi, z_min, z_max, tol = accepted
        if not lo <= self.redshift <= hi:
            e, z_near = self.cosmology.efunc, min(max(self.redshift, z_min), z_max)
            warn_user(
                f"cluster redshift z = {self.redshift:.4g} lies outside the redshifts the model"
                f" accepts ({lo:.3f} to {hi:.3f}: trained at {z_min:.3g} to {z_max:.3g}"
                f"{f', -+{tol}' if tol else ''}); at fixed velocities, self-similar scaling"
                " puts the mass off by of order log10[E(z) / E(z_train)] ="
                f" {np.log10(e(self.redshift) / e(z_near)):+.3f} dex",
                RedshiftExtrapolationWarning, stacklevel=3)
        return lo, hi

    # -- plots ---------------------------------------------------------------
    def plot_phase_space(self, *, grid=None, fig=None):
        """Draw the projected phase space: galaxies in R-v and the binned histogram.

        The two panels of Kodi Ramanah et al. (2020, Fig. 1).

        Returns
        -------
        fig : `~matplotlib.figure.Figure`
        """
        import matplotlib.pyplot as plt

        grid = PhaseSpaceGrid() if grid is None else grid
        if fig is None:
            fig = plt.figure(figsize=(9, 3.8), layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
        R = self.galaxies["R"].to_value(R_UNIT)
        v = self.galaxies["v"].to_value(V_UNIT)
        inside = grid.contains(R, v)
        ax1.scatter(R[~inside], v[~inside], s=4, color="0.7", label="outside window")
        ax1.scatter(R[inside], v[inside], s=5, color="C0", label=f"in window ({inside.sum()})")
        ax1.axvline(grid.r_max.value, color="k", lw=0.8, ls=":")
        for s in (-1, 1):
            ax1.axhline(s * grid.v_max.value, color="k", lw=0.8, ls=":")
        ax1.set_xlabel(r"$R$ [$h^{-1}$ Mpc]")
        ax1.set_ylabel(r"$v_{\rm los}$ [km/s]")
        ax1.set_title(self.name or "cluster")
        ax1.legend(frameon=False, fontsize=8, loc="upper right")
        hist = grid.histogram(R, v)
        mesh = ax2.pcolormesh(grid.r_edges.value, grid.v_edges.value, hist.T, cmap="viridis")
        fig.colorbar(mesh, ax=ax2, label="galaxies per bin")
        ax2.set_xlabel(r"$R$ [$h^{-1}$ Mpc]")
        ax2.set_ylabel(r"$v_{\rm los}$ [km/s]")
        ax2.set_title(f"{grid.n_r} x {grid.n_v} histogram")
        return fig
