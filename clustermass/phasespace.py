"""Projected phase space of a galaxy cluster and the grid the models read.

For each galaxy with sky position and redshift, relative to the cluster centre
and redshift ``z_c``, the projected phase space holds

* the projected radius ``R = D_A(z_c) * theta``, in h^-1 Mpc (``theta`` is the
  angular separation from the centre, ``D_A`` the angular-diameter distance of
  the cluster in the chosen cosmology, multiplied by ``h``), and
* the rest-frame line-of-sight velocity ``v = c (z - z_c) / (1 + z_c)`` in km/s
  (e.g. Danese, de Zotti & di Tullio 1980, A&A 82, 322; Harrison 1974).

`PhaseSpaceGrid` bins such a galaxy list into the 2D histogram that the flow
of Kodi Ramanah et al. (2020, MNRAS 499, 1985, section 2.2) reads: by default
R in [0, 1.6] h^-1 Mpc and v in [-2200, 2200] km/s, 50 x 50 bins. A grid is
saved with every model so that inputs are always binned like the training
data.

Units: public functions take and return `~astropy.units.Quantity`. A plain
number for a length or a speed is taken in the default unit (h^-1 Mpc, km/s)
with a `~clustermass.exceptions.UnitsAssumedWarning`, except in the binning
methods of `PhaseSpaceGrid` (``histogram``, ``histograms``, ``contains``),
the array-level inner loop that the mocks call with millions of galaxies:
these take plain arrays in h^-1 Mpc and km/s silently (see the user guide,
"Inputs and units").
"""

import json

import numpy as np
from astropy import units as u
from astropy.cosmology import units as cu

from . import _units
from ._io import write_json_atomic
from ._units import C_KMS, check_redshift, cluster_redshift, value_in
from .exceptions import InvalidInputError

__all__ = [
    "R_UNIT",
    "V_UNIT",
    "PhaseSpaceGrid",
    "line_of_sight_velocity",
    "projected_radius",
    "angular_radius",
    "redshift_window",
    "resolve_cosmology",
]

#: Unit of projected radii: h^-1 Mpc, in astropy's little-h convention.
R_UNIT = _units.R_UNIT
#: Unit of line-of-sight velocities.
V_UNIT = _units.V_UNIT


def resolve_cosmology(cosmology=None):
    """Return ``cosmology``, or Planck13 when it is `None`.

    clustermass' mocks and models live in the Planck13 cosmology
    (Planck Collaboration 2014, A&A 571, A16), which matches the MDPL2
    simulation of Kodi Ramanah et al. (2020), so that is the default here
    rather than astropy's `~astropy.cosmology.default_cosmology`. Pass any
    `~astropy.cosmology.Cosmology` (or the name of a built-in realization,
    e.g. ``"Planck18"``) to project in another one.
    """
    if cosmology is None:
        from astropy.cosmology import Planck13

        return Planck13
    if isinstance(cosmology, str):
        from astropy.cosmology import default_cosmology

        return default_cosmology.validate(cosmology)
    from astropy.cosmology import Cosmology

    if not isinstance(cosmology, Cosmology):
        raise InvalidInputError(
            f"cosmology must be an astropy Cosmology or the name of one, got {cosmology!r}"
        )
    return cosmology


def line_of_sight_velocity(z, z_cluster, /):
    """Rest-frame line-of-sight velocity of galaxies relative to their cluster.

    ``v = c (z - z_c) / (1 + z_c)``, the peculiar velocity in the cluster's rest
    frame to first order (Harrison 1974, ApJ 191, L51; Danese et al. 1980).

    Parameters
    ----------
    z : array-like or `~astropy.units.Quantity` ['redshift']
        Galaxy redshifts.
    z_cluster : float or `~astropy.units.Quantity` ['redshift']
        Cluster redshift.

    Returns
    -------
    v : `~astropy.units.Quantity` ['speed']
        Velocities in km/s.

    Examples
    --------
    >>> from clustermass.phasespace import line_of_sight_velocity
    >>> line_of_sight_velocity([0.0235, 0.0335], 0.0235)  # doctest: +FLOAT_CMP
    <Quantity [   0.        , 2929.09094284] km / s>
    """
    z = check_redshift(z, "z")
    zc = check_redshift(z_cluster, "z_cluster")
    return (C_KMS * (z - zc) / (1.0 + zc)) * V_UNIT


def projected_radius(coords, center, z_cluster, /, *, cosmology=None):
    """Projected radius of galaxies from the cluster centre, in h^-1 Mpc.

    ``R = h D_A(z_c) theta`` with ``theta`` the angular separation from the
    centre and ``D_A`` the angular-diameter distance to the cluster.

    Parameters
    ----------
    coords : `~astropy.coordinates.SkyCoord`
        Galaxy positions.
    center : `~astropy.coordinates.SkyCoord`
        Cluster centre.
    z_cluster : float or `~astropy.units.Quantity` ['redshift']
        Cluster redshift.
    cosmology : `~astropy.cosmology.Cosmology`, optional
        Defaults to Planck13 (see `resolve_cosmology`).

    Returns
    -------
    R : `~astropy.units.Quantity` ['length' / littleh]
        In ``u.Mpc / cu.littleh``.
    """
    cosmo = resolve_cosmology(cosmology)
    zc = cluster_redshift(z_cluster, "z_cluster")
    theta = center.separation(coords).to_value(u.rad)
    d_a = cosmo.angular_diameter_distance(zc).to_value(u.Mpc)
    return theta * d_a * cosmo.h * R_UNIT


def angular_radius(radius, z_cluster, /, *, cosmology=None):
    """Angle subtended by a projected radius at the cluster redshift.

    The inverse of `projected_radius`; used to size NED cone searches.

    Parameters
    ----------
    radius : `~astropy.units.Quantity` ['length' / littleh] or ['length']
        Projected radius in h^-1 Mpc, or a physical length (``u.Mpc``,
        ``u.kpc``), converted with the Hubble constant of ``cosmology``. A
        plain number is taken in h^-1 Mpc, with a
        `~clustermass.exceptions.UnitsAssumedWarning`.
    z_cluster : float or `~astropy.units.Quantity` ['redshift']
        Cluster redshift, > 0.
    cosmology : `~astropy.cosmology.Cosmology`, optional
        Defaults to Planck13 (see `resolve_cosmology`).

    Returns
    -------
    theta : `~astropy.coordinates.Angle`
        In degrees.

    Examples
    --------
    >>> from astropy.cosmology import Planck13
    >>> from clustermass.phasespace import angular_radius, R_UNIT
    >>> angular_radius(1.6 * R_UNIT, 0.0231, cosmology=Planck13)  # doctest: +FLOAT_CMP
    <Angle 1.36165516 deg>
    """
    from astropy.coordinates import Angle

    cosmo = resolve_cosmology(cosmology)
    r = value_in(radius, R_UNIT, "radius", equivalencies=cu.with_H0(cosmo.H0), warn_plain=True)
    zc = cluster_redshift(z_cluster, "z_cluster")
    d_a = cosmo.angular_diameter_distance(zc).to_value(u.Mpc) * cosmo.h
    return Angle((r / d_a) * u.rad).to(u.deg)


def redshift_window(z_cluster, v_max, /):
    """Redshift range whose rest-frame velocities lie within +-``v_max`` of the cluster.

    Parameters
    ----------
    z_cluster : float or `~astropy.units.Quantity` ['redshift']
        Cluster redshift.
    v_max : `~astropy.units.Quantity` ['speed']
        Half-width of the window (a plain number is km/s, with a
        `~clustermass.exceptions.UnitsAssumedWarning`).

    Returns
    -------
    z_min, z_max : float
    """
    zc = float(check_redshift(z_cluster, "z_cluster"))
    vm = float(value_in(v_max, V_UNIT, "v_max", warn_plain=True))
    dz = vm / C_KMS * (1.0 + zc)
    return zc - dz, zc + dz


class PhaseSpaceGrid:
    """A regular grid over projected phase space (R, v), and the histograms on it.

    Parameters
    ----------
    r_max : `~astropy.units.Quantity` ['length' / littleh], optional
        Outer projected radius; bins span [0, r_max). Default 1.6 h^-1 Mpc.
    v_max : `~astropy.units.Quantity` ['speed'], optional
        Half-width of the velocity window; bins span [-v_max, v_max).
        Default 2200 km/s.
    n_r, n_v : int, optional
        Number of bins in R and v (default 50 each, Kodi Ramanah et al. 2020).

    Notes
    -----
    The binning methods (`histogram`, `histograms`, `contains`) are the
    array-level inner loop of the mocks and the flows: they take Quantities,
    or plain arrays in h^-1 Mpc and km/s without a warning. A grid has no
    cosmology, so radii in physical lengths (``u.Mpc``) are refused here;
    `~clustermass.core.ClusterMass` converts them with its cosmology.

    Examples
    --------
    >>> import astropy.units as u
    >>> from clustermass import PhaseSpaceGrid
    >>> grid = PhaseSpaceGrid()
    >>> grid
    PhaseSpaceGrid(r_max=<Quantity 1.6 Mpc / littleh>, v_max=<Quantity 2200. km / s>, ...)
    >>> float(grid.histogram([0.1, 0.5, 2.0] * grid.r_max.unit,
    ...                      [10., -300., 0.] * u.km / u.s).sum())
    2.0
    """

    _params = ("r_max", "v_max", "n_r", "n_v")

    @u.quantity_input(r_max=u.Mpc / cu.littleh, v_max=u.km / u.s)
    def __init__(self, r_max=1.6 * R_UNIT, v_max=2200 * V_UNIT, n_r=50, n_v=50):
        r = float(r_max.to_value(R_UNIT))
        v = float(v_max.to_value(V_UNIT))
        if not (np.isfinite(r) and r > 0):
            raise InvalidInputError(f"r_max must be positive, got {r_max}")
        if not (np.isfinite(v) and v > 0):
            raise InvalidInputError(f"v_max must be positive, got {v_max}")
        for name, n in (("n_r", n_r), ("n_v", n_v)):
            if int(n) != n or n < 1:
                raise InvalidInputError(f"{name} must be a positive integer, got {n!r}")
        self._r_max = r
        self._v_max = v
        self.n_r = int(n_r)
        self.n_v = int(n_v)

    # -- description ---------------------------------------------------------
    @property
    def r_max(self):
        """Outer projected radius (h^-1 Mpc)."""
        return self._r_max * R_UNIT

    @property
    def v_max(self):
        """Half-width of the velocity window (km/s)."""
        return self._v_max * V_UNIT

    @property
    def shape(self):
        """Histogram shape ``(n_r, n_v)``."""
        return (self.n_r, self.n_v)

    @property
    def size(self):
        """Number of bins, the length of the flattened histogram."""
        return self.n_r * self.n_v

    @property
    def r_edges(self):
        """Bin edges in R (h^-1 Mpc)."""
        return np.linspace(0.0, self._r_max, self.n_r + 1) * R_UNIT

    @property
    def v_edges(self):
        """Bin edges in v (km/s)."""
        return np.linspace(-self._v_max, self._v_max, self.n_v + 1) * V_UNIT

    def __repr__(self):
        args = ", ".join(f"{p}={getattr(self, p)!r}" for p in self._params)
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        if not isinstance(other, PhaseSpaceGrid):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self):
        return hash(tuple(sorted(self.to_dict().items())))

    # -- binning -------------------------------------------------------------
    def _values(self, R, v):
        r = value_in(R, R_UNIT, "R")
        vv = value_in(v, V_UNIT, "v")
        if r.shape != vv.shape:
            raise InvalidInputError(
                f"R and v must have the same shape, got {r.shape} and {vv.shape}"
            )
        if not (np.all(np.isfinite(r)) and np.all(np.isfinite(vv))):
            raise InvalidInputError("R and v must not contain NaN or infinite values")
        if np.any(r < 0):
            raise InvalidInputError("projected radii R must be non-negative")
        return r.ravel(), vv.ravel()

    def contains(self, R, v):
        """Boolean mask of the galaxies that fall inside the grid."""
        r, vv = self._values(R, v)
        mask = (r < self._r_max) & (vv >= -self._v_max) & (vv < self._v_max)
        return mask.reshape(np.shape(value_in(R, R_UNIT, "R")))

    def _flat_index(self, r, vv):
        inside = (r < self._r_max) & (vv >= -self._v_max) & (vv < self._v_max)
        ir = np.floor(r[inside] / self._r_max * self.n_r).astype(np.int64)
        iv = np.floor((vv[inside] + self._v_max) / (2 * self._v_max) * self.n_v).astype(
            np.int64
        )
        # Guard against round-off at the upper edges.
        np.clip(ir, 0, self.n_r - 1, out=ir)
        np.clip(iv, 0, self.n_v - 1, out=iv)
        return inside, ir * self.n_v + iv

    def histogram(self, R, v, /, *, weights=None):
        """Counts of galaxies in each (R, v) bin.

        Parameters
        ----------
        R : `~astropy.units.Quantity` ['length' / littleh] or array-like
            Projected radii (plain numbers are taken to be in h^-1 Mpc).
        v : `~astropy.units.Quantity` ['speed'] or array-like
            Line-of-sight velocities (plain numbers are taken to be in km/s).
        weights : array-like, optional
            A weight per galaxy.

        Returns
        -------
        hist : `~numpy.ndarray`
            Shape ``(n_r, n_v)``. Galaxies outside the grid are not counted.
        """
        r, vv = self._values(R, v)
        inside, flat = self._flat_index(r, vv)
        w = None if weights is None else np.asarray(weights, dtype=float).ravel()[inside]
        counts = np.bincount(flat, weights=w, minlength=self.size).astype(float)
        return counts.reshape(self.shape)

    def histograms(self, cluster_index, R, v, /, *, n_clusters=None):
        """Histograms of many clusters at once.

        Parameters
        ----------
        cluster_index : array-like of int
            For each galaxy, the row (0 .. n_clusters-1) of the cluster it belongs to.
        R, v : array-like or `~astropy.units.Quantity`
            As in `histogram`, one entry per galaxy.
        n_clusters : int, optional
            Number of clusters; default ``max(cluster_index) + 1``.

        Returns
        -------
        hists : `~numpy.ndarray`
            Shape ``(n_clusters, n_r, n_v)``, float32.
        """
        r, vv = self._values(R, v)
        idx = np.asarray(cluster_index, dtype=np.int64).ravel()
        if idx.shape != r.shape:
            raise InvalidInputError("cluster_index must have one entry per galaxy")
        if n_clusters is None:
            n_clusters = int(idx.max()) + 1 if idx.size else 0
        if idx.size and (idx.min() < 0 or idx.max() >= n_clusters):
            raise InvalidInputError("cluster_index out of range [0, n_clusters)")
        inside, flat = self._flat_index(r, vv)
        flat = idx[inside] * self.size + flat
        counts = np.bincount(flat, minlength=n_clusters * self.size).astype(np.float32)
        return counts.reshape((n_clusters, *self.shape))

    # -- persistence ---------------------------------------------------------
    def to_dict(self):
        """A JSON-serialisable description of the grid."""
        return {
            "r_max": self._r_max,
            "r_unit": R_UNIT.to_string(),
            "v_max": self._v_max,
            "v_unit": V_UNIT.to_string(),
            "n_r": self.n_r,
            "n_v": self.n_v,
        }

    @classmethod
    def from_dict(cls, d):
        """Build a grid from the output of `to_dict`."""
        try:
            with u.add_enabled_units(cu):
                r_unit = u.Unit(d.get("r_unit", R_UNIT))
                v_unit = u.Unit(d.get("v_unit", V_UNIT))
            return cls(
                r_max=d["r_max"] * r_unit,
                v_max=d["v_max"] * v_unit,
                n_r=d["n_r"],
                n_v=d["n_v"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"not a PhaseSpaceGrid description: {d!r}") from exc

    def write(self, path):
        """Write the grid to a JSON file (atomically)."""
        write_json_atomic(self.to_dict(), path, indent=2, sort_keys=False)

    @classmethod
    def read(cls, path):
        """Read a grid written by `write`."""
        with open(path) as f:
            try:
                d = json.load(f)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"{path} is not a PhaseSpaceGrid JSON file") from exc
        return cls.from_dict(d)
