"""Tests of catalogue mode (`clustermass.survey.weigh_catalogue` and ``clustermass survey``)."""

import warnings

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import MaskedColumn, QTable, Table, vstack

import clustermass
from clustermass import ClusterMass
from clustermass.cli import main
from clustermass.clusters import load_snapshot
from clustermass.exceptions import (
    FewMembersWarning,
    InvalidInputError,
    ModelExtrapolationWarning,
    NoRedshiftsWarning,
    SupportEdgeWarning,
    UnitsAssumedWarning,
)
from clustermass.survey import weigh_catalogue, write_catalogue

SUMMARY = ("log10_m200c", "log10_m200c_std", "log10_m200c_median", "log10_m200c_16",
           "log10_m200c_84")
Z_A1689 = 0.1842
C_KMS = 299792.458


def _moved(t, dra, *, z_new=None):
    """A copy of a galaxy table rotated by ``dra`` degrees in RA (separations unchanged)."""
    m = t.copy()
    m["ra"] += dra * u.deg
    if z_new is not None:  # same velocities about a cluster at z_new
        m["redshift"] = (1 + m["redshift"]) * (1 + z_new) / (1 + Z_A1689) - 1
    return m


@pytest.fixture(scope="module")
def survey():
    """Six clusters built from the A1689 snapshot, and their galaxies.

    A1689 itself; a copy at z = 0.35 (beyond the training redshifts); a copy
    thinned to every third galaxy; 5 galaxies of the window only ('sparse'); a NaN
    redshift; an empty field.
    """
    gal = load_snapshot("A1689")["ra", "dec", "redshift"]
    center = SkyCoord(197.875, -1.3353, unit="deg")
    window = ClusterMass.from_table(gal, center=center, redshift=Z_A1689).in_window()
    inside = QTable(window["ra", "dec", "redshift"])
    inside.meta = {}
    galaxies = vstack([gal, _moved(gal, 40, z_new=0.35), _moved(gal[::3], 80),
                       _moved(inside[:5], 120)], metadata_conflicts="silent")
    clusters = QTable({
        "name": ["A1689", "z035", "thin", "sparse", "nan_z", "empty"],
        "ra": [197.875, 237.875, 277.875, 317.875, 100.0, 10.0] * u.deg,
        "dec": [-1.3353] * 6 * u.deg,
        "redshift": [Z_A1689, 0.35, Z_A1689, Z_A1689, np.nan, 0.1],
    })
    return clusters, galaxies


@pytest.fixture(scope="module")
def flow():
    return clustermass.MassFlow.pretrained("contaminated")


def _reference(galaxies, row, model, prior=None):
    """What ClusterMass.from_table gives for one catalogue row."""
    center = SkyCoord(row["ra"], row["dec"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelExtrapolationWarning)
        cm = ClusterMass.from_table(galaxies, center=center, redshift=row["redshift"])
        return cm.infer(model, prior=prior)


def _weigh(clusters, galaxies, **kwargs):
    """weigh_catalogue, and the (category, message) of each warning it issued."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        t = weigh_catalogue(clusters, galaxies, **kwargs)
    return t, [(w.category, str(w.message)) for w in record]


FEW = (FewMembersWarning, "2 of 6 clusters have fewer than 10 galaxies in the window and no"
       " mass (flag_few_galaxies)")


@pytest.mark.parametrize("prior", ["flat", "mass_function"])
def test_rows_reproduce_from_table(survey, flow, prior):
    clusters, galaxies = survey
    t, warned = _weigh(clusters, galaxies, model=flow, prior=prior)
    assert FEW in warned
    assert list(t["name"]) == list(clusters["name"])
    weighed = ~t["flag_failed"]
    assert list(weighed) == [True, True, True, False, False, False]
    for row in t[weighed]:
        post = _reference(galaxies, row, flow, prior)
        s = post.summary()
        assert row["n_galaxies"] == post.meta["n_galaxies"]
        for key in SUMMARY:
            # float32 round-off differs with the batch size; a percentile in a flat
            # tail (the mass-function prior's, for a massive cluster) moves by more.
            tol = 1e-6 if key in ("log10_m200c", "log10_m200c_std") else 1e-5
            assert abs(row[key] - s[key]) < tol, (row["name"], key)
        assert row["flag_support_edge"] == post.at_support_edge
    # One summary warning for the clusters whose posteriors pile up at a support edge.
    n_edge = int(t["flag_support_edge"].sum())
    assert ((SupportEdgeWarning, f"{n_edge} of 6 clusters have posteriors that pile up at an"
             " edge of their support (flag_support_edge)") in warned) == (n_edge > 0)
    assert t.meta["prior"] == prior
    assert t.meta["method"] == "flow:contaminated"


def test_flags_and_reasons(survey, flow):
    clusters, galaxies = survey
    t, warned = _weigh(clusters, galaxies, model=flow)
    assert sorted(warned, key=str) == sorted([FEW, (
        ModelExtrapolationWarning, "1 of 6 clusters lie outside the model's training range"
        " (flag_outside_training_range)"), (
        SupportEdgeWarning, "1 of 6 clusters have posteriors that pile up at an edge of their"
        " support (flag_support_edge)")], key=str)
    by = {row["name"]: row for row in t}
    assert by["A1689"]["reason"] == "" and by["thin"]["reason"] == ""
    # the shipped contaminated flow was trained across z = 0.01-0.3
    assert by["z035"]["flag_outside_training_range"] and not by["z035"]["flag_failed"]
    assert by["z035"]["reason"] == ("redshift 0.3500 outside the accepted range [0.010, 0.300];"
                                    " the posterior piles up at an edge of its support"
                                    " [12.90, 15.60]")
    assert by["sparse"]["n_galaxies"] == 5
    assert by["sparse"]["flag_few_galaxies"] and by["empty"]["flag_few_galaxies"]
    assert by["sparse"]["reason"] == ("only 5 galaxies in the phase-space window (at least 10"
                                      " are needed)")
    assert not by["nan_z"]["flag_few_galaxies"] and by["nan_z"]["flag_failed"]
    assert by["nan_z"]["reason"] == "the cluster redshift is not a positive number"
    for name in ("sparse", "nan_z", "empty"):
        assert all(np.isnan(by[name][k]) for k in SUMMARY)
    assert list(t["flag_outside_training_range"]) == [False, True] + [False] * 4
    # Beyond its training redshifts the copy at z = 0.35 also runs into the top of the
    # training masses (log M 15.6): both flags, and a mass not to be trusted.
    assert list(t["flag_support_edge"]) == [False, True] + [False] * 4
    assert t.meta["n_weighed"] == 3 and t.meta["n_flag_few_galaxies"] == 2
    assert t.meta["n_galaxies_input"] == len(galaxies)
    assert t.meta["accepted_redshift_range"] == "[0.01, 0.3]"


def test_too_many_galaxies_for_the_training_set(survey, flow):
    clusters, galaxies = survey
    # k copies of A1689's galaxies (143 in the window): more galaxies than any
    # training cluster of the shipped flow (flow.n_galaxies_range; 6080 for the
    # flow trained with galaxy counts up to x8).
    lo, hi = flow.n_galaxies_range
    k = int(hi // 143) + 1
    n = 143 * k
    a1689 = load_snapshot("A1689")["ra", "dec", "redshift"]
    stacked = vstack([galaxies] + [_moved(a1689, 160)] * k, metadata_conflicts="silent")
    more = vstack([clusters, QTable({"name": [f"stack{k}"], "ra": [357.875] * u.deg,
                                     "dec": [-1.3353] * u.deg, "redshift": [Z_A1689]})])
    t, warned = _weigh(more, stacked, model=flow)
    assert (ModelExtrapolationWarning, "2 of 7 clusters lie outside the model's training"
            " range (flag_outside_training_range)") in warned
    row = t[-1]
    assert row["n_galaxies"] == n > hi
    assert row["flag_outside_training_range"] and not row["flag_failed"]
    assert row["reason"] == (f"{n} galaxies in the window, outside the training range"
                             f" [{lo:.0f}, {hi:.0f}]")
    assert abs(row["log10_m200c"] - _reference(stacked, row, flow).mean) < 1e-6


def test_rows_of_a_flow_that_reads_the_redshift(survey):
    # The shipped pure flow conditions on the redshift: each row must reach it with its
    # own cluster's redshift, as ClusterMass.infer gives it.
    clusters, galaxies = survey
    pure = clustermass.MassFlow.pretrained("pure")
    assert pure.conditions_on_redshift
    t, _ = _weigh(clusters, galaxies, model=pure)
    weighed = ~t["flag_failed"]
    assert list(weighed) == [True, True, True, False, False, False]
    for row in t[weighed]:
        post = _reference(galaxies, row, pure)
        assert abs(row["log10_m200c"] - post.mean) < 1e-6, row["name"]
        assert abs(row["log10_m200c_std"] - post.std) < 1e-6, row["name"]


def test_msigma_rows_equal_from_table_exactly(survey):
    clusters, galaxies = survey
    t, warned = _weigh(clusters, galaxies, model="msigma", seed=3, n_bootstrap=200)
    assert warned == [FEW]
    assert not t["flag_outside_training_range"].any()
    for row in t[~t["flag_failed"]]:
        center = SkyCoord(row["ra"], row["dec"])
        cm = ClusterMass.from_table(galaxies, center=center, redshift=row["redshift"])
        s = cm.infer("msigma", seed=3, n_bootstrap=200).summary()
        for key in SUMMARY:
            assert row[key] == s[key]
    assert t.meta["seed"] == 3 and t.meta["n_bootstrap"] == 200


def test_clusters_across_ra_zero(survey):
    clusters, galaxies = survey
    a1689 = load_snapshot("A1689")["ra", "dec", "redshift"]
    a1689["ra"] = (a1689["ra"] - 197.8 * u.deg) % (360 * u.deg)  # centre at RA 0.075 deg
    assert a1689["ra"].max() > 359 * u.deg and a1689["ra"].min() < 1 * u.deg
    cl = QTable({"name": ["wrap"], "ra": [0.075] * u.deg, "dec": [-1.3353] * u.deg,
                 "redshift": [Z_A1689]})
    t, _ = _weigh(cl, a1689, model="msigma")
    cm = ClusterMass.from_table(a1689, center=SkyCoord(0.075, -1.3353, unit="deg"),
                                redshift=Z_A1689)
    assert t["n_galaxies"][0] == cm.n_galaxies == 143
    assert t["log10_m200c"][0] == cm.infer("msigma").mean


def test_small_chunks_give_the_same_rows(survey, flow):
    clusters, galaxies = survey
    a, _ = _weigh(clusters, galaxies, model=flow)
    b, _ = _weigh(clusters, galaxies, model=flow, chunk=1)
    for key in SUMMARY:
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-6)
    for key in ("n_galaxies", "flag_failed", "flag_few_galaxies", "reason"):
        assert list(a[key]) == list(b[key])


def test_cz_and_other_column_names(survey):
    clusters, galaxies = survey
    gal = Table({"RA": galaxies["ra"].value, "DEC": galaxies["dec"].value,
                 "CZ": galaxies["redshift"] * C_KMS})  # plain numbers: deg and km/s
    cl = Table({"NAME": clusters["name"], "RAJ2000": clusters["ra"],
                "DEJ2000": clusters["dec"], "cz": clusters["redshift"] * C_KMS * u.km / u.s})
    t, warned = _weigh(cl, gal, model="msigma")
    assert {m for c, m in warned if c is UnitsAssumedWarning} == {
        f"column {c!r} of the galaxies table has no unit; taken to be in {unit}. Give the"
        f" column a unit (table[{c!r}].unit = {unit!r}) to silence this warning."
        for c, unit in (("RA", "deg"), ("DEC", "deg"), ("CZ", "km / s"))}
    ref, _ = _weigh(clusters, galaxies, model="msigma")
    assert list(t["name"]) == list(clusters["name"])
    assert list(t["n_galaxies"]) == list(ref["n_galaxies"])
    np.testing.assert_allclose(t["log10_m200c"], ref["log10_m200c"], rtol=0, atol=1e-6)
    row = t[1]
    table = QTable({"ra": gal["RA"] * u.deg, "dec": gal["DEC"] * u.deg,
                    "cz": gal["CZ"] * u.km / u.s})
    cm = ClusterMass.from_table(table, center=SkyCoord(row["ra"], row["dec"]),
                                redshift=row["redshift"])
    assert row["log10_m200c"] == cm.infer("msigma").mean


def test_blank_galaxy_redshifts_are_dropped_with_a_warning(survey):
    clusters, galaxies = survey
    gal = Table(galaxies)
    z = MaskedColumn(gal["redshift"], mask=np.zeros(len(gal), bool))
    z.mask[:20] = True
    gal["redshift"] = z
    t, warned = _weigh(clusters, gal, model="msigma")
    assert (NoRedshiftsWarning, f"dropped 20 of {len(gal)} galaxies without a redshift"
            " (20 blank, 0 NaN)") in warned
    ref, _ = _weigh(clusters, galaxies[20:], model="msigma")
    assert list(t["n_galaxies"]) == list(ref["n_galaxies"])
    assert t["log10_m200c"][0] == ref["log10_m200c"][0]
    assert t.meta["n_galaxies_used"] == len(gal) - 20


def test_bad_inputs(survey):
    clusters, galaxies = survey
    with pytest.raises(InvalidInputError, match="galaxies table needs columns 'ra' and 'dec'"):
        weigh_catalogue(clusters, galaxies["ra", "dec"], model="msigma")
    with pytest.raises(InvalidInputError, match=r"clusters table needs .* it has \['name'"):
        weigh_catalogue(clusters["name", "ra", "redshift"], galaxies, model="msigma")
    with pytest.raises(InvalidInputError, match="clusters must be an astropy Table"):
        weigh_catalogue([1, 2], galaxies, model="msigma")
    as_velocity = galaxies.copy()
    as_velocity["redshift"] *= C_KMS
    with pytest.raises(InvalidInputError, match="looks like velocities"):
        weigh_catalogue(clusters, as_velocity, model="msigma")
    with pytest.raises(InvalidInputError, match="prior must be one of"):
        weigh_catalogue(clusters, galaxies, model="msigma", prior="uniform")
    with pytest.raises(InvalidInputError, match="chunk must be a positive integer"):
        weigh_catalogue(clusters, galaxies, model="msigma", chunk=0)


def test_lazy_top_level_name():
    assert clustermass.weigh_catalogue is weigh_catalogue


def test_cli_round_trip(survey, tmp_path, capsys):
    clusters, galaxies = survey
    clusters.write(tmp_path / "clusters.ecsv")
    plain = galaxies.copy()
    plain.meta = {}  # the snapshot's provenance, not FITS keywords
    plain.write(tmp_path / "galaxies.fits")
    expected, _ = _weigh(clusters, galaxies, model="msigma")
    for name in ("out.ecsv", "out.fits", "out.csv"):
        out = tmp_path / name
        args = ["survey", str(tmp_path / "clusters.ecsv"), str(tmp_path / "galaxies.fits"),
                "--output", str(out), "--model", "msigma"]
        with pytest.warns(FewMembersWarning):
            assert main(args) == 0
        stdout = capsys.readouterr().out
        assert stdout.startswith(f"wrote {out}: 6 clusters, 3 weighed (msigma)")
        back = QTable.read(out)
        assert list(back["name"]) == list(expected["name"])
        assert list(back["n_galaxies"]) == list(expected["n_galaxies"])
        np.testing.assert_array_equal(back["log10_m200c"], expected["log10_m200c"])
        # ECSV and CSV read empty strings back as masked
        assert list(np.ma.filled(back["reason"], "")) == list(expected["reason"])
        # plain CSV has no types: booleans come back as the strings 'True'/'False'
        assert [str(f) for f in back["flag_failed"]] == [str(f) for f in expected["flag_failed"]]
        if name == "out.ecsv":
            assert back.meta["method"] == "msigma" and back.meta["n_clusters"] == 6
            assert back["ra"].unit == u.deg
        # no silent overwrite
        assert main(args) == 2
        assert "exists; pass overwrite=True (--overwrite)" in capsys.readouterr().err
        with pytest.warns(FewMembersWarning):
            assert main([*args, "--overwrite"]) == 0
        assert capsys.readouterr().out.startswith(f"wrote {out}")


def test_write_catalogue_needs_a_known_format(survey, tmp_path):
    clusters, galaxies = survey
    t, _ = _weigh(clusters, galaxies, model="msigma")
    with pytest.raises(InvalidInputError, match="cannot tell the table format"):
        write_catalogue(t, tmp_path / "out.unknown")
    write_catalogue(t, tmp_path / "out.unknown", format="ascii.ecsv")
    assert len(QTable.read(tmp_path / "out.unknown", format="ascii.ecsv")) == 6


def test_cli_unreadable_input(tmp_path, capsys):
    (tmp_path / "junk.fits").write_text("not a table")
    code = main(["survey", str(tmp_path / "junk.fits"), str(tmp_path / "junk.fits"),
                 "--output", str(tmp_path / "o.ecsv")])
    assert code == 2
    assert "cannot read the clusters table" in capsys.readouterr().err
