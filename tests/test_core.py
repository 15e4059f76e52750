"""Tests of ClusterMass built from tables and phase-space arrays."""

import warnings

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.cosmology import FlatLambdaCDM, Planck13
from astropy.cosmology import units as cu
from astropy.table import MaskedColumn, QTable, Table

from clustermass import ClusterMass
from clustermass.baselines import msigma
from clustermass.exceptions import (
    InvalidInputError,
    ModelExtrapolationWarning,
    NoRedshiftsWarning,
    RedshiftExtrapolationWarning,
    SupportEdgeWarning,
    UnitsAssumedWarning,
)
from clustermass.phasespace import R_UNIT, V_UNIT, angular_radius

C_KMS = 299792.458


@pytest.fixture
def mock_field(rng):
    """Galaxies around a centre with known R and v (a Gaussian cluster)."""
    center = SkyCoord(150.0 * u.deg, 2.0 * u.deg)
    zc = 0.08
    n = 150
    R_true = rng.uniform(0.01, 1.5, n)
    v_true = rng.normal(0, 800, n)
    theta = angular_radius(R_true * R_UNIT, zc, cosmology=Planck13)
    coords = center.directional_offset_by(rng.uniform(0, 360, n) * u.deg, theta)
    z = zc + v_true / C_KMS * (1 + zc)
    table = Table({"ra": coords.ra.deg, "dec": coords.dec.deg, "z": z})
    table["ra"].unit = table["dec"].unit = u.deg
    return table, center, zc, R_true, v_true


def phase_space(rng, n, r_max=1.0, sigma=500.0):
    """Radii (h^-1 Mpc) and velocities (km/s) of a toy cluster, as Quantities."""
    return rng.uniform(0, r_max, n) * R_UNIT, rng.normal(0, sigma, n) * V_UNIT


def test_from_table_recovers_phase_space(mock_field):
    table, center, zc, R_true, v_true = mock_field
    cm = ClusterMass.from_table(table, center=center, redshift=zc, name="mock")
    assert cm.galaxies["R"].unit == R_UNIT and cm.galaxies["v"].unit == V_UNIT
    assert np.allclose(cm.galaxies["R"].value, R_true, rtol=1e-6)
    assert np.allclose(cm.galaxies["v"].value, v_true, atol=1e-6)
    assert cm.n_galaxies == np.sum((R_true < 1.6) & (np.abs(v_true) < 2200))
    assert cm.galaxies.meta["cosmology"] == "Planck13"


def test_from_table_accepts_cz_and_quantities(mock_field):
    table, center, zc, R_true, v_true = mock_field
    qt = QTable({"RA": table["ra"].quantity, "DEC": table["dec"].quantity.to(u.arcmin),
                 "cz": table["z"] * C_KMS * u.km / u.s})
    cm = ClusterMass.from_table(qt, center=center, redshift=zc)
    assert np.allclose(cm.galaxies["v"].value, v_true, atol=1e-6)


def test_blank_redshifts_are_dropped_with_warning(mock_field):
    table, center, zc, *_ = mock_field
    t = table.copy()
    t["z"] = MaskedColumn(t["z"], mask=np.arange(len(t)) < 7)
    with pytest.warns(NoRedshiftsWarning, match="dropped 7 of 150"):
        cm = ClusterMass.from_table(t, center=center, redshift=zc)
    assert len(cm.galaxies) == 143


def test_infer_msigma_uses_window_galaxies(mock_field):
    table, center, zc, R_true, v_true = mock_field
    cm = ClusterMass.from_table(table, center=center, redshift=zc, name="mock")
    post = cm.infer("msigma", seed=3)
    inside = (R_true < 1.6) & (np.abs(v_true) < 2200)
    direct = msigma(v_true[inside], zc, cosmology=Planck13, seed=3)
    assert post.median == pytest.approx(direct.median, abs=1e-3)
    assert post.meta["n_galaxies"] == inside.sum()
    assert post.meta["cluster"] == "mock"
    assert post.meta["cosmology"] == "Planck13"


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda t: t.remove_column("z"), "has no redshifts"),
        (lambda t: t.remove_column("ra"), "needs sky positions"),
        (lambda t: t.__setitem__("z", t["z"] * C_KMS), "looks like velocities"),
        (lambda t: t["z"].__setitem__(3, np.nan), "1 galaxies have NaN redshifts"),
        (lambda t: t["ra"].__setitem__(0, np.nan), "NaN or blank positions"),
    ],
)
def test_from_table_bad_tables(mock_field, change, match):
    table, center, zc, *_ = mock_field
    t = table.copy()
    change(t)
    with pytest.raises(InvalidInputError, match=match):
        ClusterMass.from_table(t, center=center, redshift=zc)


def test_center_without_redshift(mock_field):
    table, center, *_ = mock_field
    with pytest.raises(InvalidInputError, match="a centre without a redshift"):
        ClusterMass.from_table(table, center=center, redshift=None)


def test_too_few_galaxies_in_window(rng):
    cm = ClusterMass.from_phase_space(*phase_space(rng, 9), redshift=0.1)
    with pytest.raises(InvalidInputError, match="only 9 of 9 galaxies lie inside"):
        cm.infer("msigma")


def test_velocities_in_wrong_units(rng):
    R = rng.uniform(0, 1, 50) * R_UNIT
    with pytest.raises(InvalidInputError, match="convertible to km / s"):
        ClusterMass.from_phase_space(R, rng.normal(0, 1, 50) * u.Mpc, redshift=0.1)
    with pytest.raises(InvalidInputError, match="v is dimensionless"):
        ClusterMass.from_phase_space(R, rng.normal(0, 0.003, 50) * cu.redshift, redshift=0.1)
    with pytest.warns(UnitsAssumedWarning), pytest.raises(InvalidInputError,
                                                          match="look like redshifts"):
        ClusterMass.from_phase_space(R, rng.normal(0, 0.003, 50), redshift=0.1)
    # m/s given as plain numbers: nearly everything falls outside the window.
    with pytest.warns(UnitsAssumedWarning, match="v has no unit; taken to be in km / s"):
        cm = ClusterMass.from_phase_space(R, rng.normal(0, 8e5, 50), redshift=0.1)
    with pytest.raises(InvalidInputError, match="units of R and v"):
        cm.infer("msigma")


def test_nan_phase_space(rng):
    R, v = phase_space(rng, 30)
    v[4] = np.nan
    with pytest.raises(InvalidInputError, match="1 galaxies have NaN"):
        ClusterMass.from_phase_space(R, v, redshift=0.1)


def test_unknown_model(rng):
    cm = ClusterMass.from_phase_space(*phase_space(rng, 40), redshift=0.1)
    with pytest.raises(InvalidInputError, match="model must be"):
        cm.infer(42)


def test_plot_phase_space(rng):
    import matplotlib.pyplot as plt

    cm = ClusterMass.from_phase_space(*phase_space(rng, 60, 2.0, 900.0), redshift=0.05,
                                      name="toy")
    fig = cm.plot_phase_space()
    ax_scatter, ax_hist = fig.axes[:2]
    n_points = sum(len(c.get_offsets()) for c in ax_scatter.collections)
    assert n_points == 60
    assert ax_hist.collections[0].get_array().sum() == cm.n_galaxies
    plt.close(fig)


def test_repr(rng):
    cm = ClusterMass.from_phase_space(*phase_space(rng, 20), redshift=0.1, name="x")
    assert repr(cm) == "ClusterMass(name='x', redshift=0.1, n_galaxies=20, source='phase space')"


def test_repr_shows_plain_values(rng):
    # Names and redshifts read from tables are numpy scalars; the repr shows plain ones.
    cm = ClusterMass.from_phase_space(*phase_space(rng, 20), redshift=np.float64(0.0235),
                                      name=np.str_("Coma"), source=np.str_("SDSS"))
    assert repr(cm) == "ClusterMass(name='Coma', redshift=0.0235, n_galaxies=20, source='SDSS')"
    assert type(cm.name) is str and type(cm.redshift) is float


def test_repr_of_a_reference_cluster():
    cm = ClusterMass.from_ned("A1689", offline=True)
    assert repr(cm).startswith(
        "ClusterMass(name='A1689', redshift=0.1842, n_galaxies=143, source='Hectospec Cluster")


def test_infer_resolves_models_with_load_model(rng):
    from clustermass.baselines import MSIGMA, MSigmaEstimator

    cm = ClusterMass.from_phase_space(*phase_space(rng, 80, 1.5, 700.0), redshift=0.1)
    a = cm.infer("M-Sigma", n_bootstrap=200)
    b = cm.infer(MSIGMA, n_bootstrap=200)
    c = cm.infer(MSigmaEstimator(), n_bootstrap=200, prior="ignored by M-sigma")
    assert a.method == b.method == c.method == "msigma"
    assert a.mean == b.mean == c.mean
    assert a.meta["n_galaxies"] == cm.n_galaxies
    with pytest.raises(InvalidInputError, match="model must be one of"):
        cm.infer("uniform")


# -- physical radii ------------------------------------------------------------
@pytest.mark.parametrize("cosmology", [None, FlatLambdaCDM(H0=70, Om0=0.3)])
def test_physical_radii_are_converted_with_the_cosmology_h(rng, cosmology):
    # Radii 0-2.5 Mpc straddle the window edge (1.6 h^-1 Mpc = 2.36 Mpc for h = 0.6777),
    # so a missing or wrong factor h changes the galaxies that the estimators read.
    h = (Planck13 if cosmology is None else cosmology).h
    R_mpc = rng.uniform(0, 2.5, 300) * u.Mpc
    v = rng.normal(0, 800, 300) * V_UNIT
    phys = ClusterMass.from_phase_space(R_mpc, v, redshift=0.05, cosmology=cosmology)
    hinv = ClusterMass.from_phase_space(R_mpc.value * h * R_UNIT, v, redshift=0.05,
                                        cosmology=cosmology)
    kpc = ClusterMass.from_phase_space(R_mpc.to(u.kpc), v, redshift=0.05, cosmology=cosmology)
    assert u.allclose(phys.galaxies["R"], hinv.galaxies["R"], rtol=1e-12)
    assert u.allclose(kpc.galaxies["R"], hinv.galaxies["R"], rtol=1e-12)
    assert phys.n_galaxies == hinv.n_galaxies
    # Taking the Mpc values for h^-1 Mpc would drop galaxies at 1.6 - 2.36 Mpc.
    wrong = ClusterMass.from_phase_space(R_mpc.value * R_UNIT, v, redshift=0.05)
    assert wrong.n_galaxies < phys.n_galaxies - 20
    assert np.array_equal(phys.histogram(), hinv.histogram())  # what a flow reads
    a, b = phys.infer("msigma", n_bootstrap=200), hinv.infer("msigma", n_bootstrap=200)
    assert np.array_equal(a.log_mass_grid, b.log_mass_grid)
    assert np.array_equal(a.density, b.density)


def test_physical_radii_in_a_galaxy_table(rng):
    R_mpc = rng.uniform(0, 2.5, 50) * u.Mpc
    v = rng.normal(0, 800, 50) * V_UNIT
    cm = ClusterMass(QTable({"R": R_mpc, "v": v}), redshift=0.05)
    assert u.allclose(cm.galaxies["R"], R_mpc.value * Planck13.h * R_UNIT)
    with pytest.raises(InvalidInputError, match="convertible to Mpc / littleh, got s"):
        ClusterMass(QTable({"R": R_mpc.value * u.s, "v": v}), redshift=0.05)


# -- redshifts -----------------------------------------------------------------
BAD_REDSHIFTS = [
    (-0.1, "must be positive, got -0.1"),
    (0.0, "must be positive, got 0.0"),
    (np.nan, "NaN or infinite"),
    (np.inf, "NaN or infinite"),
    ("0.1", "must be a number, got str '0.1'"),
    (True, "must be a number, got bool"),
    ([0.1, 0.2], "must be a single number"),
    (6925.0, "looks like a velocity cz in km/s; give z = cz / c \\(here 0.0231\\)"),
    (0.1 * u.km / u.s, "convertible to redshift"),
]


@pytest.mark.parametrize("z, match", BAD_REDSHIFTS)
def test_bad_redshift_every_constructor(rng, mock_field, z, match):
    table, center, *_ = mock_field
    R, v = phase_space(rng, 20)
    with pytest.raises(InvalidInputError, match=match):
        ClusterMass.from_phase_space(R, v, redshift=z)
    with pytest.raises(InvalidInputError, match=match):
        ClusterMass(QTable({"R": R, "v": v}), redshift=z)
    with pytest.raises(InvalidInputError, match=match):
        ClusterMass.from_table(table, center=center, redshift=z)
    # Checked before any network access or snapshot is read.
    with pytest.raises(InvalidInputError, match=match):
        ClusterMass.from_ned("Coma", redshift=z, offline=True)
    with pytest.raises(InvalidInputError, match=match):
        ClusterMass.from_ned(center, redshift=z)


def test_redshift_is_required(rng, mock_field):
    table, center, *_ = mock_field
    R, v = phase_space(rng, 20)
    with pytest.raises(TypeError, match="required keyword-only argument: 'redshift'"):
        ClusterMass.from_phase_space(R, v)
    with pytest.raises(InvalidInputError, match="the cluster redshift is required"):
        ClusterMass.from_phase_space(R, v, redshift=None)
    with pytest.raises(InvalidInputError, match="the cluster redshift is required"):
        ClusterMass(QTable({"R": R, "v": v}), redshift=None)


def test_redshift_quantities_are_accepted(rng):
    R, v = phase_space(rng, 20)
    for z in (0.05 * cu.redshift, u.Quantity(0.05), np.float32(0.05)):
        cm = ClusterMass.from_phase_space(R, v, redshift=z)
        assert cm.redshift == pytest.approx(0.05) and type(cm.redshift) is float


# -- plain numbers ---------------------------------------------------------------
def test_plain_arrays_are_taken_in_default_units_with_a_warning(rng):
    R, v = phase_space(rng, 40)
    ref = ClusterMass.from_phase_space(R, v, redshift=0.1)
    with pytest.warns(UnitsAssumedWarning, match=r"R has no unit; taken to be in Mpc / littleh"):
        a = ClusterMass.from_phase_space(R.value, v, redshift=0.1)
    with pytest.warns(UnitsAssumedWarning, match=r"v has no unit; taken to be in km / s"):
        b = ClusterMass.from_phase_space(R, list(v.value), redshift=0.1)
    with pytest.warns(UnitsAssumedWarning, match="R has no unit"):
        c = ClusterMass(Table({"R": R.value, "v": v}), redshift=0.1)
    for cm in (a, b, c):
        assert np.array_equal(cm.histogram(), ref.histogram())
    with pytest.raises(InvalidInputError, match="R must be numeric"):
        ClusterMass.from_phase_space(R.value.astype(str), v, redshift=0.1)


def test_plain_table_columns_warn(mock_field):
    table, center, zc, R_true, v_true = mock_field
    plain = Table({"ra": table["ra"].value, "dec": table["dec"].value, "z": table["z"]})
    with pytest.warns(UnitsAssumedWarning) as record:
        cm = ClusterMass.from_table(plain, center=center, redshift=zc)
    assert [str(w.message).split(";")[0] for w in record] == [
        "column 'ra' has no unit", "column 'dec' has no unit"]
    assert all("taken to be in deg" in str(w.message) for w in record)
    assert np.allclose(cm.galaxies["R"].value, R_true, rtol=1e-6)
    # A name that spells the unit (NED's columns) needs no warning; redshifts have no unit.
    ned_style = Table({"RA(deg)": plain["ra"], "DEC(deg)": plain["dec"], "z": table["z"]})
    ClusterMass.from_table(ned_style, center=center, redshift=zc)
    cz = Table({"ra": table["ra"], "dec": table["dec"], "cz": table["z"] * C_KMS})
    with pytest.warns(UnitsAssumedWarning, match="column 'cz' has no unit; taken to be in km / s"):
        cm = ClusterMass.from_table(cz, center=center, redshift=zc)
    assert np.allclose(cm.galaxies["v"].value, v_true, atol=1e-6)


# -- what infer records ------------------------------------------------------------
def test_infer_states_h_and_mass_definition(mock_field):
    table, center, zc, *_ = mock_field
    cm = ClusterMass.from_table(table, center=center, redshift=zc,
                                cosmology=FlatLambdaCDM(H0=70, Om0=0.3))
    post = cm.infer("msigma", n_bootstrap=200)
    assert post.meta["h"] == 0.7 and post.meta["mass_definition"] == "200c"
    assert post.meta["at_support_edge"] is False
    s = post.summary_quantity()
    assert s["h"] == 0.7 and s["mass_definition"] == "200c"
    assert u.isclose(s["m200c"], 10**post.median / 0.7 * u.Msun)


# -- flows: training redshifts and support edges ---------------------------------
@pytest.fixture(scope="module")
def coma_flow():
    pytest.importorskip("tensorflow_probability")
    from clustermass.flow import MassFlow

    return MassFlow.pretrained("contaminated")


@pytest.fixture(scope="module")
def coma():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnitsAssumedWarning)
        return ClusterMass.from_ned("Coma", offline=True)


def test_redshift_outside_training_range_warns(coma_flow, coma):
    # The shipped contaminated flow was trained across z = 0.01-0.3 (nuisance priors).
    assert coma_flow.training_redshift_range == (0.01, 0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RedshiftExtrapolationWarning)
        post = coma.infer(coma_flow)  # z = 0.0235: inside
    assert post.meta["accepted_redshift_range"] == pytest.approx([0.01, 0.3])
    far = ClusterMass.from_phase_space(coma.galaxies["R"], coma.galaxies["v"], redshift=0.5)
    shift = np.log10(Planck13.efunc(0.5) / Planck13.efunc(0.3))
    with pytest.warns(RedshiftExtrapolationWarning,
                      match=rf"z = 0.5 lies outside .* \(0.010 to 0.300: .*= \+{shift:.3f} dex"):
        far.infer(coma_flow)
    assert issubclass(RedshiftExtrapolationWarning, ModelExtrapolationWarning)


def test_single_redshift_model_gets_a_tolerance(coma):
    # A flow trained at one redshift (the paper's z = 0.117) accepts 0.117 -+ 0.1.
    from clustermass.flow import MassFlow

    class SingleRedshiftFlow(MassFlow):
        training_redshift_range = (0.117, 0.117)

    single = SingleRedshiftFlow.pretrained("contaminated")
    post = coma.infer(single)
    assert post.meta["accepted_redshift_range"] == pytest.approx([0.017, 0.217])
    far = ClusterMass.from_phase_space(coma.galaxies["R"], coma.galaxies["v"], redshift=0.3)
    with pytest.warns(RedshiftExtrapolationWarning, match=r"\(0.017 to 0.217"):
        far.infer(single)


def test_model_training_redshift_range_is_used(coma_flow, coma):
    from clustermass.flow import MassFlow

    class HighRedshiftFlow(MassFlow):
        training_redshift_range = (0.3, 0.45)

    flow = HighRedshiftFlow.pretrained("contaminated")
    # Trained across a range: no tolerance beyond it.
    with pytest.warns(RedshiftExtrapolationWarning,
                      match=r"\(0.300 to 0.450: trained at 0.3 to 0.45\)"):
        post = coma.infer(flow)
    assert post.meta["accepted_redshift_range"] == pytest.approx([0.3, 0.45])


def test_posterior_at_the_support_edge_warns(coma_flow, coma):
    post = coma.infer(coma_flow)  # 14.9 +- 0.13: well inside the training masses
    assert tuple(post.meta["support"]) == pytest.approx((12.9, 15.6), abs=1e-3)
    assert post.meta["at_support_edge"] is False
    # Velocities doubled: the posterior is cut off at the top of the training masses.
    hot = ClusterMass.from_phase_space(coma.galaxies["R"], 2 * coma.galaxies["v"],
                                       redshift=coma.redshift, name="hot Coma")
    with pytest.warns(SupportEdgeWarning, match="hot Coma piles up at an edge"):
        post = hot.infer(coma_flow)
    assert post.meta["at_support_edge"] is True and post.at_support_edge
