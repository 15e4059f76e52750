"""Tests of the reference clusters and the offline snapshots."""

import warnings

import numpy as np
import pytest
from astropy import units as u

from clustermass import ClusterMass
from clustermass.clusters import get_cluster, load_snapshot, reference_clusters, snapshot_source
from clustermass.exceptions import (
    OfflineError,
    OfflineSnapshotWarning,
    UnknownClusterError,
)
from clustermass.phasespace import R_UNIT, V_UNIT


def test_table1_clusters_and_values():
    t = reference_clusters()
    assert list(t["name"]) == ["Coma", "A1689", "A85", "A119", "A576", "A1651", "A2142",
                               "A2670"]
    coma = t[0]
    # Kodi Ramanah et al. 2020 Table 1, and Lokas & Mamon 2003.
    assert (coma["log_m200c_flow_paper"], coma["log_m200c_flow_paper_err"]) == (14.95, 0.10)
    assert (coma["log_m200c_lit"], coma["log_m200c_lit_err"]) == (14.91, 0.11)
    assert t["ra"].unit == u.deg
    # Approximate centres are flagged as such.
    assert not t[t["name"] == "A576"]["position_verified"][0]


@pytest.mark.parametrize("alias", ["Coma", "coma", "A1656", "Abell 1656", "ACO 1656", "abell1656"])
def test_aliases(alias):
    assert get_cluster(alias)["name"] == "Coma"


def test_unknown_cluster_suggests():
    with pytest.raises(UnknownClusterError, match="Did you mean .*A1689"):
        get_cluster("A1698")
    with pytest.raises(UnknownClusterError, match="reference clusters are Coma, A1689"):
        get_cluster("Virgo")


def test_coma_snapshot():
    t = load_snapshot("Coma")
    assert len(t) == 1743
    assert t["R"].unit == R_UNIT and t["v"].unit == V_UNIT
    assert "RCausticMass" in t.meta["source"]
    inside = (t["R"] < 1.6 * R_UNIT) & (np.abs(t["v"]) < 2200 * V_UNIT)
    assert inside.sum() == 672  # as counted in REFERENCES.md B1


def test_a1689_snapshot():
    t = load_snapshot("Abell 1689")
    assert len(t) == 499
    assert t["hecs_member"].astype(bool).sum() == 198
    assert np.all((t["redshift"] > 0) & (t["redshift"] < 1))
    assert "Rines" in snapshot_source("A1689")


def test_no_snapshot():
    assert load_snapshot("A85") is None
    assert load_snapshot("nonexistent") is None


def test_from_ned_falls_back_to_snapshot_when_offline():
    # No network on the test machines (and pytest-remotedata blocks it anyway).
    with pytest.warns(OfflineSnapshotWarning, match="RCausticMass"):
        cm = ClusterMass.from_ned("Coma")
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
    members = cm.galaxies[load_snapshot("A1689")["hecs_member"].astype(bool)]
    # HeCS caustic members sit near the cluster in velocity.
    assert np.median(np.abs(members["v"].to_value(V_UNIT))) < 1200
