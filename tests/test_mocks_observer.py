"""Tests of the Ho et al. (2019) observer on periodic simulation boxes."""

import itertools

import numpy as np
import pytest
from astropy import units as u
from astropy.cosmology import Planck13
from astropy.cosmology import units as cu
from astropy.table import Table

from clustermass.exceptions import InvalidInputError
from clustermass.mocks import MockCatalogue, load, observe
from clustermass.mocks.geometry import (
    add_velocities,
    distance_table,
    fibonacci_sphere,
    hubble_velocity,
    random_sight_lines,
    relative_velocity,
    subtract_velocities,
)
from clustermass.phasespace import R_UNIT
from clustermass.priors import MDPL2_UNIVERSE

Z = MDPL2_UNIVERSE.redshift


def test_velocity_composition_is_relativistic_and_invertible():
    c = 299792.458
    v1, v2 = 0.6 * c, 0.6 * c
    s = add_velocities(v1, v2)
    assert s < c
    assert np.isclose(s, 1.2 / 1.36 * c)
    assert np.isclose(subtract_velocities(s, v2), v1)
    # the Hubble velocity is the relativistic Doppler velocity of the redshift
    z = 0.3
    beta = hubble_velocity(z) / c
    assert np.isclose(np.sqrt((1 + beta) / (1 - beta)) - 1, z)


def test_relative_velocity_matches_hubble_flow_and_peculiar_velocity():
    tab = distance_table(Z, Planck13)
    hz = 100 * Planck13.efunc(Z)  # km/s per physical h^-1 Mpc
    dchi = np.array([-20.0, -5.0, 0.0, 5.0, 20.0])  # comoving h^-1 Mpc
    v = relative_velocity(dchi, 0.0, 0.0, *tab)
    # v = c dz / (1 + z) to first order = H(z) x physical separation
    assert np.allclose(v, hz * dchi / (1 + Z), rtol=2e-3)
    # peculiar velocities add (to first order), the host's subtracts
    v2 = relative_velocity(0.0, 300.0, -200.0, *tab)
    assert np.isclose(v2, 500.0, rtol=1e-3)
    with pytest.raises(InvalidInputError, match="beyond the distance table"):
        relative_velocity(1e4, 0.0, 0.0, *tab)


def test_fibonacci_sphere_spreads_directions():
    v = fibonacci_sphere(50)
    assert np.allclose(np.linalg.norm(v, axis=1), 1)
    assert abs(v.mean(axis=0)).max() < 0.05
    with pytest.raises(InvalidInputError):
        fibonacci_sphere(0)


def test_random_sight_lines_are_unit_vectors_and_seeded():
    for n in (1, 7):
        a = random_sight_lines(np.random.default_rng(3), n)
        b = random_sight_lines(np.random.default_rng(3), n)
        assert a.shape == (n, 3) and np.array_equal(a, b)
        assert np.allclose(np.linalg.norm(a, axis=1), 1)


def _box(rng, box=200.0, n_hosts=6, n_field=6000):
    """Hosts (several near the box edges) with galaxies around them and in the field."""
    hp = rng.uniform(0, box, (n_hosts, 3))
    hp[0] = [1.0, 2.0, 199.0]  # a corner: cylinders wrap around
    hp[1] = [75.0, 199.5, 0.5]
    hv = rng.normal(0, 300, (n_hosts, 3))
    r200 = rng.uniform(0.4, 1.4, n_hosts)
    pos, vel, owner = [], [], []
    for i in range(n_hosts):
        k = 60
        pos.append(hp[i] + rng.normal(0, 0.6 * r200[i], (k, 3)))
        vel.append(hv[i] + rng.normal(0, 600, (k, 3)))
        owner.append(np.full(k, i + 100))
        # a sheet of galaxies along the z axis in front of and behind the host
        k = 80
        p = hp[i] + np.column_stack([rng.normal(0, 1.0, k), rng.normal(0, 1.0, k),
                                     rng.uniform(-40, 40, k)])
        pos.append(p)
        vel.append(rng.normal(0, 400, (k, 3)))
        owner.append(np.full(k, -1))
    pos.append(rng.uniform(0, box, (n_field, 3)))
    vel.append(rng.normal(0, 400, (n_field, 3)))
    owner.append(np.full(n_field, -1))
    pos = np.mod(np.vstack(pos), box)
    vel = np.vstack(vel)
    hosts = Table({"id": np.arange(n_hosts) + 100, "x": hp[:, 0], "y": hp[:, 1],
                   "z": hp[:, 2], "vx": hv[:, 0], "vy": hv[:, 1], "vz": hv[:, 2],
                   "m200c": 10 ** rng.uniform(13.5, 15, n_hosts), "r200c": r200})
    gals = Table({"x": pos[:, 0], "y": pos[:, 1], "z": pos[:, 2], "vx": vel[:, 0],
                  "vy": vel[:, 1], "vz": vel[:, 2], "host_id": np.concatenate(owner)})
    return hosts, gals, box


def _brute_force(hosts, gals, box, los, *, aperture=1.6, vcut=2500.0, frame="comoving",
                 min_galaxies=10, kind="contaminated"):
    """Every (host, line of sight, galaxy) in the cylinder, checking all 27 periodic images."""
    tab = distance_table(Z, Planck13, half_width=0.2)
    to_com = 1 + Z if frame == "physical" else 1.0
    gp = np.column_stack([gals[c] for c in "xyz"])
    gv = np.column_stack([gals[c] for c in ("vx", "vy", "vz")])
    found = {}
    for i, h in enumerate(hosts):
        hp = np.array([h["x"], h["y"], h["z"]])
        hv = np.array([h["vx"], h["vy"], h["vz"]])
        for j, n in enumerate(los[i]):
            rows = {}
            for shift in itertools.product((-1, 0, 1), repeat=3):
                d = gp + np.array(shift) * box - hp
                ell = d @ n
                R = np.sqrt(np.maximum((d * d).sum(1) - ell**2, 0)) / to_com
                near = np.abs(ell) < 150.0  # the table's range; the box sides are 200
                v = np.full(len(ell), np.inf)
                v[near] = relative_velocity(ell[near], gv[near] @ n, hv @ n, *tab)
                member = np.linalg.norm(d, axis=1) < h["r200c"]
                sel = (R < aperture) & (np.abs(v) < vcut)
                if kind == "pure":
                    sel &= member
                for g in np.flatnonzero(sel):
                    assert g not in rows, "a galaxy in the cylinder twice: box too small"
                    rows[g] = (R[g], v[g], member[g])
            if len(rows) >= min_galaxies:
                found[(int(h["id"]), j)] = rows
    return found


def _as_dict(cat):
    out = {}
    gi = np.asarray(cat.galaxies["galaxy_index"])
    R = cat.galaxies["R"].to_value(R_UNIT)
    v = cat.galaxies["v"].value
    mem = np.asarray(cat.galaxies["member"])
    cid = np.asarray(cat.galaxies["cluster_id"])
    for row in cat.clusters:
        sel = cid == row["cluster_id"]
        out[(int(row["host_id"]), int(row["los_index"]))] = {
            int(g): (r, vv, m)
            for g, r, vv, m in zip(gi[sel], R[sel], v[sel], mem[sel], strict=True)}
    return out


@pytest.mark.parametrize("los, frame", [("z", "comoving"), ("x", "physical"),
                                        ("vectors", "comoving")])
def test_observer_matches_brute_force_on_periodic_box(rng, los, frame):
    hosts, gals, box = _box(rng)
    if los == "vectors":
        vecs = np.array([[1.0, 1.0, 0.3], [-0.2, 0.5, 1.0]])
        los_arg = vecs
        los_list = np.broadcast_to(vecs / np.linalg.norm(vecs, axis=1, keepdims=True),
                                   (len(hosts), 2, 3))
    else:
        los_arg = los
        axis = np.eye(3)["xyz".index(los)]
        los_list = np.broadcast_to(axis, (len(hosts), 1, 3))
    cat = observe(hosts, gals, box_size=box, los=los_arg, frame=frame, progress=False)
    got = _as_dict(cat)
    expected = _brute_force(hosts, gals, box, los_list, frame=frame)
    assert set(got) == set(expected)
    assert len(got) >= 4  # the test exercises something
    for key, rows in expected.items():
        assert set(got[key]) == set(rows), key
        for g, (R, v, m) in rows.items():
            R2, v2, m2 = got[key][g]
            assert np.isclose(R2, R, atol=1e-5) and np.isclose(v2, v, atol=0.02) and m2 == m
    # at least one cylinder crosses the periodic boundary
    assert any(np.ptp(np.asarray(gals["z"])[list(rows)]) > box / 2 for rows in got.values())


def test_observer_pure_is_subset_and_membership_by_host_id(rng):
    hosts, gals, box = _box(rng)
    cont = observe(hosts, gals, box_size=box, los="z", progress=False)
    pure = observe(hosts, gals, box_size=box, los="z", kind="pure", min_galaxies=1,
                   progress=False)
    c, p = _as_dict(cont), _as_dict(pure)
    for key, rows in p.items():
        assert all(m for _, _, m in rows.values())
        if key in c:
            assert set(rows) <= set(c[key])
    assert np.all(cont.n_galaxies >= 10)
    by_id = observe(hosts, gals, box_size=box, los="z", membership="host_id", progress=False)
    gi = np.asarray(by_id.galaxies["galaxy_index"])
    cid = np.asarray(by_id.galaxies["cluster_id"])
    host_of_cluster = np.asarray(by_id.clusters["host_id"])[cid]
    assert np.array_equal(np.asarray(by_id.galaxies["member"]),
                          np.asarray(gals["host_id"])[gi] == host_of_cluster)


def test_observer_random_lines_of_sight_are_seeded(rng):
    hosts, gals, box = _box(rng)
    a = observe(hosts, gals, box_size=box, los="random", n_los=3, seed=4, progress=False)
    b = observe(hosts, gals, box_size=box, los="random", n_los=3, seed=4, progress=False)
    assert np.array_equal(a.clusters["los"], b.clusters["los"])
    assert set(a.clusters["los_index"]) <= {0, 1, 2}


def test_observer_units_and_write_roundtrip(rng, tmp_path):
    hosts, gals, box = _box(rng)
    q = hosts.copy()
    q["x"] = q["x"] * R_UNIT
    q["m200c"] = q["m200c"] * u.Msun / cu.littleh
    cat = observe(q, gals, box_size=box * R_UNIT, los="z", progress=False)
    assert isinstance(cat, MockCatalogue) and len(cat) > 0
    path = cat.write(tmp_path / "box.h5")
    back = load(path)
    assert len(back) == len(cat)
    assert np.allclose(back.galaxies["R"], cat.galaxies["R"])
    assert back.meta["source"] == "clustermass.mocks.observe"


def test_observer_errors(rng):
    hosts, gals, box = _box(rng)
    with pytest.raises(InvalidInputError, match="too small"):
        observe(hosts, gals, box_size=60.0, progress=False)
    with pytest.raises(InvalidInputError, match="kind"):
        observe(hosts, gals, box_size=box, kind="dirty", progress=False)
    with pytest.raises(InvalidInputError, match="los"):
        observe(hosts, gals, box_size=box, los="w", progress=False)
    with pytest.raises(InvalidInputError, match="column"):
        observe(hosts[["id", "x"]], gals, box_size=box, progress=False)
    bad = gals.copy()
    bad["x"][0] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        observe(hosts, bad, box_size=box, progress=False)
