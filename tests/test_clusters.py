"""Tests of the reference clusters and the offline galaxy snapshots."""

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u

from clustermass import ClusterMass
from clustermass.clusters import (
    SNAPSHOTS,
    get_cluster,
    load_snapshot,
    reference_clusters,
    snapshot_source,
)
from clustermass.exceptions import OfflineError, OfflineSnapshotWarning, UnknownClusterError
from clustermass.phasespace import R_UNIT, V_UNIT

NAMES = ["Coma", "A1689", "A85", "A119", "A576", "A1651", "A2142", "A2670"]
# Kodi Ramanah et al. 2020, Table 1: flow and literature log10[M200c / (h^-1 Msun)].
TABLE1 = {
    "Coma": (14.95, 0.10, 14.91, 0.11, 0.11, "Lokas & Mamon 2003"),
    "A1689": (14.91, 0.08, 15.05, 0.12, 0.12, "Lemze et al. 2009"),
    "A85": (14.98, 0.13, 14.88, 0.07, 0.07, "Wojtak & Lokas 2007"),
    "A119": (14.56, 0.09, 14.61, 0.11, 0.11, "Abdullah et al. 2020"),
    "A576": (14.76, 0.09, 14.69, 0.08, 0.08, "Wojtak & Lokas 2007"),
    "A1651": (14.93, 0.09, 14.81, 0.11, 0.11, "Abdullah et al. 2020"),
    "A2142": (14.85, 0.14, 14.95, 0.04, 0.14, "Munari et al. 2014"),
    "A2670": (14.61, 0.06, 14.72, 0.10, 0.10, "Wojtak & Lokas 2007"),
}
UNVERIFIED = {"A576", "A2142"}  # approximate centres and redshifts (REFERENCES.md C1)
C_KMS = 299792.458


# -- the reference table -------------------------------------------------------------


def test_table1_clusters_and_masses():
    t = reference_clusters()
    assert list(t["name"]) == NAMES
    for row in t:
        flow, flow_err, lit, plus, minus, ref = TABLE1[row["name"]]
        assert row["log_m200c_flow_paper"] == flow
        assert row["log_m200c_flow_paper_err"] == flow_err
        assert row["log_m200c_lit"] == lit
        assert (row["log_m200c_lit_err_plus"], row["log_m200c_lit_err_minus"]) == (plus, minus)
        assert row["log_m200c_lit_err"] == max(plus, minus)
        assert row["lit_reference"] == ref


def test_table_units_descriptions_and_provenance():
    t = reference_clusters()
    assert t["ra"].unit == u.deg and t["dec"].unit == u.deg
    assert t["redshift"].dtype == np.float64 and not isinstance(t["redshift"], u.Quantity)
    for col in t.colnames:
        assert t[col].info.description, f"{col} has no description"
    assert "log10[M200c / (h^-1 Msun)]" in t["log_m200c_flow_paper"].info.description
    assert "Kodi Ramanah" in t.meta["reference"] and "MNRAS 499, 1985" in t.meta["reference"]
    assert np.all((t["ra"] >= 0 * u.deg) & (t["ra"] < 360 * u.deg))
    assert np.all(np.abs(t["dec"]) <= 90 * u.deg)
    assert np.all((t["redshift"] > 0.01) & (t["redshift"] < 0.3))
    for row in t:
        assert row["position_source"] and row["redshift_source"]


def test_unverified_values_are_flagged():
    t = reference_clusters()
    for row in t:
        unverified = row["name"] in UNVERIFIED
        assert row["position_verified"] is not unverified
        assert row["redshift_verified"] is not unverified
        if unverified:
            assert "UNVERIFIED" in row["position_source"]
            assert "UNVERIFIED" in row["redshift_source"]


def test_a1689_matches_hecs():
    # HeCS table 1 (Rines et al. 2013): X-ray centre and redshift, as in the A1689 snapshot.
    row = get_cluster("A1689")
    assert (row["ra"].to_value(u.deg), row["dec"].to_value(u.deg)) == (197.8750, -1.3353)
    assert row["redshift"] == 0.1842 == load_snapshot("A1689").meta["cluster_redshift"]


def test_reference_clusters_returns_a_copy():
    t = reference_clusters()
    t["redshift"][0] = 99.0
    t.meta["reference"] = "changed"
    assert reference_clusters()["redshift"][0] == 0.0231
    assert "Kodi Ramanah" in reference_clusters().meta["reference"]
    row = get_cluster("Coma")
    row["redshift"] = 99.0
    assert get_cluster("Coma")["redshift"] == 0.0231


# -- names ---------------------------------------------------------------------------


@pytest.mark.parametrize(("alias", "name"), [
    ("Coma", "Coma"), ("coma", "Coma"), ("COMA", "Coma"), ("Coma Cluster", "Coma"),
    ("A1656", "Coma"), ("Abell 1656", "Coma"), ("ACO 1656", "Coma"), ("abell1656", "Coma"),
    ("a 1656", "Coma"), ("A-1656", "Coma"), (" Abell  1656 ", "Coma"),
    ("A1689", "A1689"), ("Abell 1689", "A1689"), ("aco1689", "A1689"),
    ("A85", "A85"), ("Abell 85", "A85"), ("A0085", "A85"), ("ACO 85", "A85"),
    ("a119", "A119"), ("Abell 576", "A576"), ("abell 1651", "A1651"), ("A 2142", "A2142"),
    ("Abell 2670", "A2670"), ("PSZ2 G081.31-68.56", "A2670"),
])
def test_aliases(alias, name):
    assert get_cluster(alias)["name"] == name


def test_every_listed_alias_resolves():
    for row in reference_clusters():
        for alias in str(row["aliases"]).split(";"):
            assert get_cluster(alias)["name"] == row["name"]


def test_unknown_cluster_suggests_close_names():
    with pytest.raises(UnknownClusterError, match=r"Did you mean A1689, A119 or Coma \(A1656\)"):
        get_cluster("A1698")
    with pytest.raises(UnknownClusterError, match=r"Did you mean Coma\?"):
        get_cluster("Comma")


def test_unknown_cluster_lists_the_known_ones():
    msg = ("unknown cluster 'Virgo'; the reference clusters are Coma, A1689, A85, A119, A576,"
           " A1651, A2142, A2670.")
    with pytest.raises(UnknownClusterError) as info:
        get_cluster("Virgo")
    assert str(info.value) == msg
    assert isinstance(info.value, ValueError)  # generic handlers keep working


# -- snapshots -----------------------------------------------------------------------


def test_coma_snapshot():
    t = load_snapshot("Coma")
    assert t.colnames == ["R", "v"] and len(t) == 1743  # every row of the source
    assert t["R"].unit == R_UNIT and t["v"].unit == V_UNIT
    assert t["R"].dtype == t["v"].dtype == np.float64
    # R [h^-1 Mpc] = 0.7 dproj [Mpc for H0 = 70]; first source row: 9.68421067060803 Mpc.
    assert t["R"][0].value == pytest.approx(0.7 * 9.68421067060803, rel=1e-15)
    assert t["v"][0].value == 898.239070120224
    assert np.all(t["R"] >= 0 * R_UNIT) and np.all(np.abs(t["v"]) < 4000 * V_UNIT)
    inside = (t["R"] < 1.6 * R_UNIT) & (np.abs(t["v"]) < 2200 * V_UNIT)
    assert inside.sum() == 672  # as counted in REFERENCES.md B1


def test_coma_provenance():
    meta = load_snapshot("Coma").meta
    assert meta["cluster"] == "Coma" and meta["cluster_redshift"] == 0.0235
    assert meta["source"].startswith("SDSS DR20 galaxies around Coma (Abell 1656)")
    assert "RCausticMass" in meta["source"]
    assert "SDSS DR20" in meta["citation"] and "Dailer F. Morell (2026)" in meta["citation"]
    assert meta["licence"].startswith("MIT")
    assert len(meta["source_sha256"]) == 64


def test_a1689_snapshot():
    t = load_snapshot("Abell 1689")
    assert t.colnames == ["ra", "dec", "redshift", "cz", "cz_err", "xcorr_r", "quality",
                          "hecs_member"]
    assert len(t) == 499
    assert t["ra"].unit == u.deg and t["dec"].unit == u.deg
    assert t["cz"].unit == V_UNIT and t["cz_err"].unit == V_UNIT
    assert np.allclose(t["redshift"], t["cz"].to_value(V_UNIT) / C_KMS, rtol=1e-15)
    assert (t["hecs_member"] > 0).sum() == 198
    assert set(t["quality"]) <= {"Q", "?", "X"}
    # The field of A1689: RA 13h09m41s-13h13m31s, Dec -00d51m to -01d48m.
    assert np.all((t["ra"] > 197.4 * u.deg) & (t["ra"] < 198.4 * u.deg))
    assert np.all((t["dec"] > -1.81 * u.deg) & (t["dec"] < -0.85 * u.deg))
    # The first source line: 13 09 41.287 -01 15 09.540, cz = 79592 +- 57 km/s.
    assert t["ra"][0].value == pytest.approx(15 * (13 + 9 / 60 + 41.287 / 3600), abs=1e-9)
    assert t["dec"][0].value == pytest.approx(-(1 + 15 / 60 + 9.540 / 3600), abs=1e-9)
    assert (t["cz"][0].value, t["cz_err"][0].value) == (79592.0, 57.0)
    # HeCS's caustic members sit at the cluster redshift.
    members = t["redshift"][t["hecs_member"] > 0]
    assert np.median(members) == pytest.approx(0.1842, abs=0.003)


def test_a1689_provenance():
    meta = load_snapshot("A1689").meta
    assert meta["cluster"] == "A1689"
    assert "Rines" in meta["citation"] and "ApJ 767, 15" in meta["citation"]
    assert "J/ApJ/767/15" in meta["source"]
    assert "for checks only" in load_snapshot("A1689")["hecs_member"].info.description
    assert snapshot_source("A1689") == meta["source"]
    assert snapshot_source("a1689").startswith("Hectospec Cluster Survey")


def test_snapshot_lookup():
    assert set(SNAPSHOTS) == {"Coma", "A1689"}
    assert load_snapshot("Abell 1656").meta["cluster"] == "Coma"
    assert load_snapshot("A85") is None
    assert load_snapshot("not a cluster") is None
    assert snapshot_source("A85") == "no offline snapshot"
    t = load_snapshot("Coma")
    t["v"][0] = 0 * V_UNIT
    assert load_snapshot("Coma")["v"][0].value == 898.239070120224  # a fresh copy


def test_make_snapshots_reproduces_the_shipped_files(tmp_path, monkeypatch):
    repo = Path(__file__).resolve().parents[1]
    script = repo / "data" / "make_snapshots.py"
    source = repo.parent / "shared" / "data"
    if not script.exists() or not (source / "coma").is_dir():
        pytest.skip("needs the repository's data/ and the shared source data")
    spec = importlib.util.spec_from_file_location("make_snapshots", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "OUT", tmp_path)
    module.main([str(source)])
    shipped = repo / "clustermass" / "data" / "snapshots"
    for name in SNAPSHOTS.values():
        assert (tmp_path / name).read_text() == (shipped / name).read_text(), name


# -- the snapshots through ClusterMass -----------------------------------------------


def test_from_ned_falls_back_to_snapshot_when_offline():
    # No network on the test machines (and pytest-remotedata blocks it anyway).
    with pytest.warns(OfflineSnapshotWarning, match="RCausticMass"):
        cm = ClusterMass.from_ned("Coma", cache=False)
    assert cm.n_galaxies == 672
    assert cm.redshift == 0.0235


def test_from_ned_offline_without_snapshot():
    with pytest.raises(OfflineError, match="no offline snapshot ships for A85"):
        ClusterMass.from_ned("A85", offline=True)


def test_a1689_phase_space_from_snapshot():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cm = ClusterMass.from_ned("A1689", offline=True)
    assert cm.source.startswith("Hectospec")
    members = cm.galaxies[load_snapshot("A1689")["hecs_member"] > 0]
    # HeCS caustic members sit near the cluster in velocity.
    assert np.median(np.abs(members["v"].to_value(V_UNIT))) < 1200
