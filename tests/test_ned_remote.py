"""Live NED tests (run with ``pytest --remote-data=any``)."""

import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from clustermass import ClusterMass, ned


@pytest.mark.remote_data
class TestNEDRemote:
    def test_cone_search_around_coma(self):
        t = ned.query_region(SkyCoord(194.935 * u.deg, 27.912 * u.deg), redshift=0.0231,
                             cache=False)
        assert len(t) >= 1
        assert t["ra"].unit == u.deg
        assert set(t["type"]) <= set(ned.GALAXY_TYPES)

    @pytest.mark.parametrize("name", ["Coma", "A1689", "A85", "A119", "A576", "A1651",
                                      "A2142", "A2670"])
    def test_table1_clusters(self, name):
        cm = ClusterMass.from_ned(name, cache=False)
        assert cm.source == "NED"
        assert cm.n_galaxies >= 10
