"""Tests of the nuisance parameters of the synthetic universe (issue #10, item 1).

Each nuisance is fixed at two values with the same seed, so that everything
else about the hosts (masses, positions, random numbers) is the same, and its
effect on the catalogue is compared with what the physics says.
"""

import h5py
import numpy as np
import pytest
from astropy.cosmology import Planck13

from clustermass.exceptions import InvalidInputError
from clustermass.mocks import SyntheticUniverse, generate, load
from clustermass.mocks import catalogue as C
from clustermass.mocks import hosts as H
from clustermass.mocks.profiles import mamon_lokas_beta
from clustermass.mocks.universe import NUISANCE_PARAMETERS, NUISANCE_PRESETS
from clustermass.priors import MDPL2_UNIVERSE, TrainingUniverse

#: hosts in a narrow mass bin, so that "at fixed mass" holds
NARROW = {"log_mass_min": 14.4, "log_mass_max": 14.5}
NAMES = ("richness_factor", "interloper_factor", "velocity_bias", "anisotropy", "redshift")


def _cat(path, kind="pure", n=40, seed=3, split="test", **params):
    return load(generate(path, kind=kind, split=split, n_clusters=n, seed=seed,
                         progress=False, overwrite=True, **params))


def _pair(tmp_path, name, lo, hi, **kw):
    """Two catalogues with the nuisance ``name`` fixed at lo and at hi (same seed)."""
    a = _cat(tmp_path / "a.h5", **{f"{name}_range": [lo, lo]}, **kw)
    b = _cat(tmp_path / "b.h5", **{f"{name}_range": [hi, hi]}, **kw)
    return a, b


def _common(a, b):
    """Rows of a and b with the same host and line of sight (both kept by min_galaxies)."""
    ka = {(h, j): i for i, (h, j) in enumerate(zip(a.clusters["host_id"],
                                                    a.clusters["los_index"], strict=True))}
    rows = [(ka[(h, j)], i) for i, (h, j) in enumerate(zip(b.clusters["host_id"],
                                                          b.clusters["los_index"], strict=True))
            if (h, j) in ka]
    ia, ib = (np.array(r) for r in zip(*rows, strict=True))
    return ia, ib


def _velocities(cat, rows):
    """v / v200c of the galaxies of the clusters in ``rows``, and their R / r200c."""
    order, starts, stops = cat.group_slices()
    v = np.asarray(cat.galaxies["v"].value)
    R = np.asarray(cat.galaxies["R"].value)
    v200 = np.asarray(cat.clusters["v200c"].value)
    r200 = np.asarray(cat.clusters["r200c"].value)
    vs, Rs = [], []
    for i in rows:
        g = order[starts[i]:stops[i]]
        vs.append(v[g] / v200[i])
        Rs.append(R[g] / r200[i])
    return np.concatenate(vs), np.concatenate(Rs)


# -- the default universe is today's -------------------------------------------------------
def test_defaults_are_degenerate_and_draw_no_random_numbers():
    uni = SyntheticUniverse()
    assert uni.nuisance_is_default()
    assert list(uni.nuisance_ranges()) == list(NUISANCE_PARAMETERS) == list(NAMES)
    assert uni.nuisance_ranges() == {
        "richness_factor": (1.0, 1.0), "interloper_factor": (1.0, 1.0),
        "velocity_bias": (uni.velocity_bias,) * 2, "anisotropy": (0.5, 0.5),
        "redshift": (MDPL2_UNIVERSE.redshift,) * 2}
    rng = np.random.default_rng(1)
    state = rng.bit_generator.state
    values = uni.draw_nuisance(rng)
    assert rng.bit_generator.state == state  # no random number taken
    assert values == uni.nuisance_nominal()
    t = uni.tables()
    assert t.for_cluster(values) is t  # the tables of today's universe, untouched
    # the robust priors take one number per nuisance
    SyntheticUniverse.robust().draw_nuisance(rng)
    assert rng.bit_generator.state != state


def test_default_catalogue_keeps_its_format(tmp_path):
    path = generate(tmp_path / "d.h5", kind="contaminated", split="test", n_clusters=15,
                    seed=2, progress=False)
    with h5py.File(path, "r") as f:
        assert not set(C.NUISANCE_COLUMNS) & set(f["clusters"])
        assert "nuisance_priors" not in f.attrs
        assert "redshift_range" not in f.attrs["universe"]
    cat = load(path)  # load puts the fixed values back
    assert cat.meta["universe"] == SyntheticUniverse().to_dict()
    assert np.all(cat.clusters["richness_factor"] == 1.0)
    assert np.all(cat.clusters["anisotropy"] == 0.5)
    assert np.all(cat.clusters["redshift"] == MDPL2_UNIVERSE.redshift)


def test_fixing_a_nuisance_at_todays_value_changes_no_galaxy(tmp_path):
    today = _cat(tmp_path / "t.h5", kind="contaminated", n=20, seed=4)
    fixed = _cat(tmp_path / "f.h5", kind="contaminated", n=20, seed=4,
                 velocity_bias_range=[1.0, 1.0], anisotropy_range=[0.5, 0.5],
                 redshift_range=[MDPL2_UNIVERSE.redshift] * 2)
    assert fixed.meta["universe"]["velocity_bias_range"] == [1.0, 1.0]
    assert fixed.meta["nuisance_priors"]["velocity_bias"] == [1.0, 1.0]
    for col in ("R", "v", "member", "origin", "cluster_id"):
        assert np.array_equal(today.galaxies[col], fixed.galaxies[col])
    assert np.array_equal(today.clusters["log_m200c"], fixed.clusters["log_m200c"])


# -- each nuisance ---------------------------------------------------------------------------
def test_richness_factor_scales_galaxy_counts(tmp_path):
    a, b = _pair(tmp_path, "richness_factor", 0.5, 2.0, kind="contaminated", **NARROW)
    ia, ib = _common(a, b)
    assert len(ia) > 30
    assert np.all(a.clusters["richness_factor"] == 0.5)
    assert np.all(b.clusters["richness_factor"] == 2.0)
    assert np.array_equal(a.clusters["log_m200c"][ia], b.clusters["log_m200c"][ib])
    ratio = b.clusters["n_virial"][ib].sum() / a.clusters["n_virial"][ia].sum()
    assert ratio == pytest.approx(4.0, rel=0.1)  # survey depth: 4x the members
    # ... and 4x the interlopers (field and neighbours): the depth is the same everywhere
    inter_a = (a.clusters["n_galaxies"] - a.clusters["n_members"])[ia].sum()
    inter_b = (b.clusters["n_galaxies"] - b.clusters["n_members"])[ib].sum()
    assert inter_b / inter_a == pytest.approx(4.0, rel=0.25)


def test_interloper_factor_scales_the_environment_only(tmp_path):
    a, b = _pair(tmp_path, "interloper_factor", 0.5, 2.0, kind="contaminated", n=60, **NARROW)
    ia, ib = _common(a, b)
    assert np.array_equal(a.clusters["n_members"][ia], b.clusters["n_members"][ib])

    def environment(cat, rows):
        o = np.asarray(cat.galaxies["origin"])
        per = np.bincount(np.asarray(cat.galaxies["cluster_id"]),
                          weights=np.isin(o, (H.ORIGIN_FIELD, H.ORIGIN_NEIGHBOUR)),
                          minlength=len(cat))
        return per[np.asarray(cat.clusters["cluster_id"])[rows]].sum()

    assert environment(b, ib) / environment(a, ia) == pytest.approx(4.0, rel=0.25)


def test_velocity_bias_scales_member_dispersion(tmp_path):
    # without substructure every member moves with the host's velocity bias; hosts of
    # 10^14 h^-1 Msun, so that the +-2500 km/s window clips no member
    a, b = _pair(tmp_path, "velocity_bias", 0.9, 1.1, subgroup_survival=0.0,
                 log_mass_min=14.0, log_mass_max=14.1)
    ia, ib = _common(a, b)
    assert np.all(a.clusters["velocity_bias_mean"] == 0.9)
    va, _ = _velocities(a, ia)
    vb, _ = _velocities(b, ib)
    assert vb.std() / va.std() == pytest.approx(1.1 / 0.9, rel=0.01)
    # the range's centre becomes the universe's velocity_bias
    assert SyntheticUniverse(velocity_bias_range=[0.9, 1.1]).velocity_bias == pytest.approx(1.0)


def test_anisotropy_sets_radial_and_tangential_dispersions():
    """3D known answer: E[v_t^2 / 2] = (1 - beta(r)) E[v_r^2] for each member."""
    uni = SyntheticUniverse(anisotropy_range=[0.0, 0.8], velocity_shape_exponent=0.0,
                            subgroup_survival=0.0, minor_axis_mean=1.0, minor_axis_sd=0.0)
    base = uni.tables()
    ratios = {}
    for beta_inf in (0.0, 0.8):
        t = base.for_cluster(dict(uni.nuisance_nominal(), anisotropy=beta_inf))
        assert t.anisotropy == beta_inf
        rng = np.random.default_rng(8)
        vt2 = vr2 = expect = weight = 0.0
        for _ in range(12):
            h = H.realise_host(t, 15.0, rng)
            r = np.linalg.norm(h.pos, axis=1)
            sel = (r > 0.4 * h.r200) & (r < h.r200)
            rhat = h.pos[sel] / r[sel, None]
            vr = np.sum(h.vel[sel] * rhat, axis=1)
            vt2 += (np.sum(h.vel[sel] ** 2) - np.sum(vr**2)) / 2
            vr2 += np.sum(vr**2)
            x = r[sel] / h.r200
            w = t.jeans_sigma2(h.c, x) * (h.v200 * h.b_v) ** 2
            beta = mamon_lokas_beta(x, uni.anisotropy_radius / h.c, beta_inf)
            expect += np.sum((1 - beta) * w)
            weight += np.sum(w)
        ratios[beta_inf] = vt2 / vr2
        assert ratios[beta_inf] == pytest.approx(expect / weight, rel=0.08)
    assert ratios[0.0] == pytest.approx(1.0, rel=0.08)  # isotropic
    assert ratios[0.8] < 0.65  # radial


def test_radial_orbits_steepen_the_projected_dispersion_profile(tmp_path):
    a, b = _pair(tmp_path, "anisotropy", 0.0, 0.8, n=60, **NARROW)
    ia, ib = _common(a, b)

    def inner_over_outer(cat, rows):
        v, R = _velocities(cat, rows)
        return v[R < 0.3].std() / v[(R > 0.6) & (R < 1.0)].std()

    # radial orbits: the line of sight sees sigma_r near the centre, sigma_t outside
    iso, rad = inner_over_outer(a, ia), inner_over_outer(b, ib)
    assert rad > iso * 1.1
    assert np.all(b.clusters["anisotropy"] == 0.8)


def test_redshift_sets_r200_v200_and_the_mass_function(tmp_path):
    a, b = _pair(tmp_path, "redshift", 0.01, 0.3, n=20)
    assert np.all(a.clusters["redshift"] == 0.01) and np.all(b.clusters["redshift"] == 0.3)
    assert a.meta["redshift"] == 0.01 and b.meta["redshift"] == 0.3  # nominal = fixed value
    assert TrainingUniverse.from_catalogue_meta(b.meta).redshift == 0.3

    def r200_at_1e15(cat):  # physical r200c scaled to 10^15 h^-1 Msun: rho_crit(z)^(-1/3)
        return cat.clusters["r200c"].value * 10 ** ((15 - cat.log_mass) / 3)

    ratio = np.mean(r200_at_1e15(b)) / np.mean(r200_at_1e15(a))
    assert ratio == pytest.approx((Planck13.efunc(0.3) / Planck13.efunc(0.01)) ** (-2 / 3),
                                  rel=1e-6)
    for cat, z in ((a, 0.01), (b, 0.3)):  # v200 = 10 H(z) r200
        assert np.allclose(cat.clusters["v200c"].value / cat.clusters["r200c"].value,
                           1000 * Planck13.efunc(z), rtol=1e-9)
    # the mass function (test split) at each z: interpolated tables = exact ones
    wide = SyntheticUniverse(redshift_range=[0.01, 0.3]).tables()
    for z in (0.0437, 0.2213):
        t = wide.for_cluster(dict(wide.universe.nuisance_nominal(), redshift=z))
        exact = SyntheticUniverse(redshift=z).tables()
        assert np.allclose(t.host_cdf_mf, exact.host_cdf_mf, atol=1e-3)
        assert t.r200(1e14) == exact.r200(1e14) and t.hubble == exact.hubble
        assert np.allclose(t.concentration(1e14), exact.concentration(1e14), rtol=1e-4)
        assert t.redshift == z


def test_lowest_redshift_keeps_the_observing_window(tmp_path):
    cat = _cat(tmp_path / "z.h5", kind="contaminated", n=10, redshift_range=[0.01, 0.01])
    assert np.all(cat.galaxies["R"].value < 1.6)  # physical h^-1 Mpc
    assert np.all(np.abs(cat.galaxies["v"].value) < 2500)  # rest-frame km/s
    assert np.any(~np.asarray(cat.galaxies["member"]))


# -- wide priors -----------------------------------------------------------------------------
def test_robust_priors_record_values_within_their_ranges(tmp_path):
    cat = _cat(tmp_path / "r.h5", kind="contaminated", n=40, seed=6, split="train",
               **NUISANCE_PRESETS["robust"])
    uni = SyntheticUniverse.robust()
    assert cat.meta["nuisance_priors"] == {k: list(v) for k, v in uni.nuisance_ranges().items()}
    assert SyntheticUniverse.from_dict(cat.meta["universe"]) == uni
    assert cat.meta["redshift"] == pytest.approx(0.155)
    for name, (column, _) in NUISANCE_PARAMETERS.items():
        lo, hi = uni.nuisance_ranges()[name]
        values = np.asarray(cat.clusters[column])
        assert np.all((values >= lo) & (values <= hi)), name
        # lines of sight of a host share its values; different hosts differ
        assert len(np.unique(values)) == len(np.unique(cat.host_id)), name
    # the wide priors change the physics: r200c follows each cluster's redshift
    z = np.asarray(cat.clusters["redshift"])
    r = cat.clusters["r200c"].value * 10 ** ((15 - cat.log_mass) / 3)
    assert np.allclose(r * Planck13.efunc(z) ** (2 / 3), r[0] * Planck13.efunc(z[0]) ** (2 / 3))


def test_parse_overrides_presets_and_cli_names():
    o = SyntheticUniverse.parse_overrides(["nuisance_priors=robust",
                                           "richness_factor_range=[0.5,0.5]"])
    uni = SyntheticUniverse(**o)
    assert uni.richness_factor_range == (0.5, 0.5)
    assert uni.redshift_range == NUISANCE_PRESETS["robust"]["redshift_range"]
    assert SyntheticUniverse(**SyntheticUniverse.parse_overrides(
        ["nuisance_priors=default"])).nuisance_is_default()
    with pytest.raises(InvalidInputError, match="nuisance_priors must be one of"):
        SyntheticUniverse.parse_overrides(["nuisance_priors=wide"])


@pytest.mark.parametrize(("bad", "match"), [
    ({"richness_factor_range": [2.0, 1.0]}, "lo <= hi"),
    ({"richness_factor_range": 2.0}, "must be a pair"),
    ({"richness_factor_range": [0.0, 1.0]}, "positive"),
    ({"interloper_factor_range": [1, 2, 3]}, "must be a pair"),
    ({"velocity_bias_range": ["a", 1]}, "must be a pair"),
    ({"anisotropy_range": [0.0, 1.5]}, r"in \[-1, 1\]"),
    ({"redshift_range": [0.0, 0.3]}, r"in \(0, 2\)"),
    ({"redshift_range": [0.1, float("nan")]}, "finite"),
])
def test_bad_nuisance_ranges(bad, match):
    with pytest.raises(InvalidInputError, match=match):
        SyntheticUniverse(**bad)


def test_values_outside_the_tabulated_prior_are_refused():
    t = SyntheticUniverse().tables()
    with pytest.raises(InvalidInputError, match="outside the range"):
        t.for_cluster(dict(t.universe.nuisance_nominal(), redshift=0.2))


@pytest.mark.slow
def test_wide_priors_same_bytes_for_any_jobs(tmp_path):
    kw = dict(kind="contaminated", split="train", n_clusters=150, seed=9, progress=False,
              **NUISANCE_PRESETS["robust"])
    p1 = generate(tmp_path / "1.h5", jobs=1, **kw)
    p2 = generate(tmp_path / "2.h5", jobs=2, **kw)
    assert p1.read_bytes() == p2.read_bytes()
