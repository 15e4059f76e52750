"""Tests of the NED layer against recorded real NED replies (both schemas)."""

import numpy as np
import pytest
import requests
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from astropy.utils.data import get_pkg_data_filename

from clustermass import ned
from clustermass.exceptions import NEDServiceError, NEDTimeoutError, OfflineError

SCHEMAS = ["legacy_schema", "new_api_schema"]


def recorded(schema, name):
    path = get_pkg_data_filename(f"data/ned/{schema}/{name}.xml")
    # astroquery reads NED's VOTables with use_names_over_ids=True.
    return Table.read(path, format="votable", use_names_over_ids=True)


@pytest.fixture
def patch_ned(monkeypatch):
    """Replace the public astroquery call with one that returns a recorded reply."""
    from astroquery.ipac.ned import Ned

    calls = []

    def install(reply):
        def fake(coordinates, radius=None, **kwargs):
            calls.append((coordinates, radius))
            if isinstance(reply, Exception):
                raise reply
            return reply() if callable(reply) else reply

        monkeypatch.setattr(Ned, "query_region", fake)
        return calls

    return install


@pytest.mark.parametrize("schema", SCHEMAS)
def test_cone_searches_parse_to_the_same_columns(schema):
    t = ned.parse_ned_table(recorded(schema, "query_near_position"))
    assert t.colnames == ["name", "ra", "dec", "redshift", "velocity", "type", "z_flag",
                          "separation"]
    assert t["ra"].unit == u.deg and t["dec"].unit == u.deg
    assert t["velocity"].unit == u.km / u.s and t["separation"].unit == u.arcmin
    assert t["redshift"].dtype == float
    raw = recorded(schema, "query_near_position")
    assert len(t) == len(raw)
    assert t.meta["ned_schema"] == schema.replace("_schema", "")
    # Near (83.82, -5.39), the Orion Trapezium.
    assert np.allclose(np.median(t["ra"].value), 83.82, atol=0.05)


def test_both_schemas_agree_on_dtypes():
    a = ned.parse_ned_table(recorded("legacy_schema", "query_near_position"))
    b = ned.parse_ned_table(recorded("new_api_schema", "query_near_position"))
    for col in a.colnames:
        assert a[col].dtype.kind == b[col].dtype.kind, col


def test_new_schema_redshift_is_the_value_not_the_count():
    raw = recorded("new_api_schema", "query_near_name")
    t = ned.parse_ned_table(raw)
    # 'Redshift' in the new schema counts measurements; ours must be 'Redshift (z)'.
    expected = np.ma.filled(np.ma.asarray(raw["Redshift (z)"], float), np.nan)
    assert np.allclose(t["redshift"], expected, equal_nan=True)
    assert not np.allclose(t["redshift"], np.asarray(raw["Redshift"], float), equal_nan=True)


@pytest.mark.parametrize("schema", SCHEMAS)
def test_selection_matches_an_independent_count(schema):
    raw = recorded(schema, "query_near_name")
    t = ned.parse_ned_table(raw)
    z = t["redshift"]
    finite = np.isfinite(z)
    if not finite.any():
        pytest.skip("no redshifts in this recording")
    z_min, z_max = np.min(z[finite]) - 1e-6, np.median(z[finite])
    type_col = "Type" if schema == "legacy_schema" else "Phys Type"
    zcol = "Redshift" if schema == "legacy_schema" else "Redshift (z)"
    raw_z = np.ma.filled(np.ma.asarray(raw[zcol], float), np.nan)
    raw_type = np.array([str(x).strip() for x in raw[type_col]])
    expected = (raw_type == "G") & (raw_z >= z_min) & (raw_z <= z_max)
    sel = ned.select_galaxies(t, z_min=z_min, z_max=z_max)
    assert len(sel) == expected.sum()
    assert sum(sel.meta["ned_dropped"].values()) + len(sel) == len(t)


def test_selection_keeps_galaxies_in_window():
    t = ned.parse_ned_table(recorded("new_api_schema", "query_near_position"))
    t["type"] = t["type"].astype("U8")
    t["z_flag"] = t["z_flag"].astype("U8")
    t["type"][:5] = "G"
    t["redshift"][:5] = [0.1, 0.1001, 0.2, np.nan, 0.1]
    t["z_flag"][4] = "PHOT"
    sel = ned.select_galaxies(t, z_min=0.099, z_max=0.101)
    assert list(sel["name"]) == list(t["name"][:2])
    assert sel.meta["ned_dropped"]["photometric_redshifts"] == 1
    assert sel.meta["ned_dropped"]["galaxies_without_redshift"] == 1


@pytest.mark.parametrize("schema", SCHEMAS)
def test_query_region_end_to_end_and_cache(schema, patch_ned):
    raw = recorded(schema, "query_near_position")
    calls = patch_ned(raw)
    center = SkyCoord(83.82 * u.deg, -5.39 * u.deg)
    # Give a few objects galaxy redshifts so that the window keeps them.
    t1 = ned.query_region(center, redshift=0.001, cache=True)
    assert len(calls) == 1
    assert calls[0][1].unit == u.arcmin
    assert t1.meta["query_ra_deg"] == pytest.approx(83.82)
    assert "NED" in t1.meta["service"]
    files = list(ned.cache_dir().glob("cone_*.ecsv"))
    assert len(files) == 1
    t2 = ned.query_region(center, redshift=0.001, cache=True)
    assert len(calls) == 1  # served from the cache
    assert t2.colnames == t1.colnames and len(t2) == len(t1)
    assert not list(ned.cache_dir().glob("*.tmp"))


def test_corrupt_cache_is_refetched(patch_ned):
    calls = patch_ned(recorded("legacy_schema", "query_near_position"))
    center = SkyCoord(83.82 * u.deg, -5.39 * u.deg)
    ned.query_region(center, redshift=0.001, cache=True)
    (path,) = ned.cache_dir().glob("cone_*.ecsv")
    path.write_text("# %ECSV 1.0\ngarbage\n\x00")
    ned.query_region(center, redshift=0.001, cache=True)
    assert len(calls) == 2


@pytest.mark.parametrize("schema", SCHEMAS)
def test_error_replies(schema, patch_ned):
    # Parsing NED's error reply fails inside the query, as it does in astroquery.
    patch_ned(lambda: recorded(schema, "error"))
    with pytest.raises(NEDServiceError, match="not a VOTable"):
        ned.query_region(SkyCoord(1 * u.deg, 1 * u.deg), redshift=0.05, cache=False)


def test_non_votable_reply(patch_ned):
    patch_ned(ValueError("1:49: syntax error"))
    with pytest.raises(NEDServiceError, match="not a VOTable"):
        ned.query_region(SkyCoord(1 * u.deg, 1 * u.deg), redshift=0.05, cache=False)


def test_timeout(patch_ned):
    patch_ned(requests.exceptions.ReadTimeout("read timeout=60"))
    with pytest.raises(NEDTimeoutError, match="ned_timeout"):
        ned.query_region(SkyCoord(1 * u.deg, 1 * u.deg), redshift=0.05, cache=False)


def test_no_network(patch_ned):
    patch_ned(requests.exceptions.ConnectionError("Name resolution failed"))
    with pytest.raises(OfflineError, match="cannot be reached"):
        ned.query_region(SkyCoord(1 * u.deg, 1 * u.deg), redshift=0.05, cache=False)
