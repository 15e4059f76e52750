"""Live NED tests, skipped by default; run them with ``pytest --remote-data=any``.

They check structure only (columns, units, at least one row), never values, since
NED's holdings change.
"""

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from clustermass import ned
from clustermass.clusters import get_cluster
from clustermass.phasespace import V_UNIT, redshift_window


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    (tmp_path / "xdg").mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


@pytest.mark.remote_data
class TestNEDRemote:
    def test_raw_cone_search_parses(self):
        from astroquery.ipac.ned import Ned

        raw = Ned.query_region(SkyCoord(194.89879, 27.95939, unit="deg"), radius=1 * u.arcmin)
        t = ned.parse_ned_table(raw)
        assert t.colnames == list(ned.COLUMNS)
        assert t.meta["ned_schema"] in ("legacy", "new_api")
        assert len(t) >= 1
        assert t["ra"].unit == u.deg and t["separation"].unit == u.arcmin

    def test_cone_search_around_coma(self):
        coma = get_cluster("Coma")
        center = SkyCoord(coma["ra"], coma["dec"])
        t = ned.query_region(center, redshift=coma["redshift"], cache=True, timeout=300)
        assert t.colnames == list(ned.COLUMNS)
        assert len(t) >= 10
        assert t["ra"].unit == u.deg and t["dec"].unit == u.deg
        assert t["velocity"].unit == V_UNIT and t["separation"].unit == u.arcmin
        assert set(t["type"]) <= set(ned.GALAXY_TYPES)
        z_min, z_max = redshift_window(coma["redshift"], 2500 * V_UNIT)
        assert np.all((t["redshift"] >= z_min) & (t["redshift"] <= z_max))
        assert t.meta["query"]["radius_arcmin"] > 60
        assert t.meta["from_cache"] is False
        again = ned.query_region(center, redshift=coma["redshift"], cache=True)
        assert again.meta["from_cache"] is True and len(again) == len(t)

    def test_a1689_through_clustermass(self):
        from clustermass import ClusterMass

        cm = ClusterMass.from_ned("A1689", cache=False)
        assert cm.source == "NED"
        assert cm.n_galaxies >= 10
