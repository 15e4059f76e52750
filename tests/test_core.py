"""Tests of ClusterMass built from tables and phase-space arrays."""

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.cosmology import Planck13
from astropy.table import MaskedColumn, QTable, Table

from clustermass import ClusterMass
from clustermass.baselines import msigma
from clustermass.exceptions import InvalidInputError, NoRedshiftsWarning
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
    return table, center, zc, R_true, v_true


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
    qt = QTable({"RA": table["ra"] * u.deg, "DEC": (table["dec"] * u.deg).to(u.arcmin),
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
    cm = ClusterMass.from_phase_space(rng.uniform(0, 1, 9), rng.normal(0, 500, 9),
                                      redshift=0.1)
    with pytest.raises(InvalidInputError, match="only 9 of 9 galaxies lie inside"):
        cm.infer("msigma")


def test_velocities_in_wrong_units(rng):
    R = rng.uniform(0, 1, 50) * R_UNIT
    with pytest.raises(InvalidInputError, match="convertible to km / s"):
        ClusterMass.from_phase_space(R, rng.normal(0, 1, 50) * u.Mpc)
    with pytest.raises(InvalidInputError, match="look like redshifts"):
        ClusterMass.from_phase_space(R, rng.normal(0, 0.003, 50))
    # m/s given as plain numbers: nearly everything falls outside the window.
    cm = ClusterMass.from_phase_space(R, rng.normal(0, 8e5, 50), redshift=0.1)
    with pytest.raises(InvalidInputError, match="units of R and v"):
        cm.infer("msigma")


def test_nan_phase_space(rng):
    R, v = rng.uniform(0, 1, 30), rng.normal(0, 500, 30)
    v[4] = np.nan
    with pytest.raises(InvalidInputError, match="1 galaxies have NaN"):
        ClusterMass.from_phase_space(R, v)


def test_unknown_model(rng):
    cm = ClusterMass.from_phase_space(rng.uniform(0, 1, 40), rng.normal(0, 500, 40),
                                      redshift=0.1)
    with pytest.raises(InvalidInputError, match="model must be"):
        cm.infer(42)


def test_plot_phase_space(rng):
    import matplotlib.pyplot as plt

    cm = ClusterMass.from_phase_space(rng.uniform(0, 2, 60), rng.normal(0, 900, 60),
                                      redshift=0.05, name="toy")
    fig = cm.plot_phase_space()
    ax_scatter, ax_hist = fig.axes[:2]
    n_points = sum(len(c.get_offsets()) for c in ax_scatter.collections)
    assert n_points == 60
    assert ax_hist.collections[0].get_array().sum() == cm.n_galaxies
    plt.close(fig)


def test_repr(rng):
    cm = ClusterMass.from_phase_space(rng.uniform(0, 1, 20), rng.normal(0, 500, 20),
                                      redshift=0.1, name="x")
    assert repr(cm) == "ClusterMass(name='x', redshift=0.1, n_galaxies=20, source='phase space')"


def test_infer_resolves_models_with_load_model(rng):
    from clustermass.baselines import MSIGMA, MSigmaEstimator

    cm = ClusterMass.from_phase_space(rng.uniform(0, 1.5, 80), rng.normal(0, 700, 80),
                                      redshift=0.1)
    a = cm.infer("M-Sigma", n_bootstrap=200)
    b = cm.infer(MSIGMA, n_bootstrap=200)
    c = cm.infer(MSigmaEstimator(), n_bootstrap=200, prior="ignored by M-sigma")
    assert a.method == b.method == c.method == "msigma"
    assert a.mean == b.mean == c.mean
    assert a.meta["n_galaxies"] == cm.n_galaxies
    with pytest.raises(InvalidInputError, match="model must be one of"):
        cm.infer("uniform")
