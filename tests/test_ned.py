"""Tests of the NED layer against real NED replies recorded by astroquery (both schemas).

The recordings (``tests/data/ned/``, BSD-3-Clause, see LICENSE-astroquery.rst there) are
read the way astroquery reads NED's VOTables (``use_names_over_ids=True``), and the only
thing patched is the public `astroquery.ipac.ned.Ned.query_region`.
"""

import os
import subprocess
import sys
from xml.parsers.expat import ExpatError

import numpy as np
import pytest
import requests
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.cosmology import Planck13
from astropy.table import QTable, Table
from astropy.utils.data import get_pkg_data_filename
from astroquery.exceptions import RemoteServiceError, TableParseError
from astroquery.ipac.ned import Ned

from clustermass import conf, ned
from clustermass.exceptions import (
    InvalidInputError,
    NEDServiceError,
    NEDTimeoutError,
    OfflineError,
)
from clustermass.phasespace import R_UNIT, V_UNIT, angular_radius, redshift_window

SCHEMAS = ["legacy_schema", "new_api_schema"]
ORION = SkyCoord(83.822083 * u.deg, -5.391111 * u.deg)  # centre of the recorded cone searches
C_KMS = 299792.458
# Raw column names of each schema, used to compute expectations independently of ned.py.
RAW = {
    "legacy_schema": {"name": "Object Name", "ra": "RA(deg)", "dec": "DEC(deg)", "z": "Redshift",
                      "cz": "Velocity", "type": "Type", "flag": "Redshift Flag",
                      "sep": "Distance (arcmin)"},
    "new_api_schema": {"name": "Object Name", "ra": "RA", "dec": "Dec", "z": "Redshift (z)",
                       "cz": "cz", "type": "Phys Type", "flag": "z flag", "sep": "Separation"},
}


def path_of(schema, name):
    return get_pkg_data_filename(f"data/ned/{schema}/{name}.xml")


def recorded(schema, name):
    """A recorded reply, read as astroquery reads NED VOTables."""
    return Table.read(path_of(schema, name), format="votable", use_names_over_ids=True)


def raw_floats(col):
    return np.ma.filled(np.ma.MaskedArray(col, dtype=float), np.nan)


def raw_strings(col):
    return np.array(["" if x is np.ma.masked else str(x).strip() for x in col])


class _Response:
    """Just enough of `requests.Response` for astroquery's NED parser."""

    def __init__(self, content):
        self.content = content


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path, monkeypatch):
    """Point the NED cache at a temporary directory, never the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    (tmp_path / "xdg").mkdir()
    path = ned.cache_dir()
    assert tmp_path in path.parents
    return path


@pytest.fixture
def fake_ned(monkeypatch):
    """Replace `Ned.query_region` by a fake that returns (or raises) ``reply``."""
    calls = []

    def install(reply):
        def fake(coordinates, *, radius=1 * u.arcmin, **kwargs):
            calls.append({"coordinates": coordinates, "radius": radius, "kwargs": kwargs,
                          "timeout": Ned.TIMEOUT})
            if isinstance(reply, BaseException):
                raise reply
            return reply() if callable(reply) else reply.copy()

        monkeypatch.setattr(Ned, "query_region", fake)
        return calls

    return install


def doctored_cone(schema, z_cluster, v_max=2500 * V_UNIT):
    """The recorded Orion cone search with a few objects turned into galaxies at ``z``.

    Returns the raw table and the indices of the rows that a selection around
    ``z_cluster`` must keep, computed here from the raw columns.
    """
    raw = recorded(schema, "query_near_position")
    c = RAW[schema]
    z_min, z_max = redshift_window(z_cluster, v_max)
    dz = z_max - z_cluster
    edits = [  # (type, z, flag)
        ("G", z_cluster, ""),  # kept
        ("G", z_cluster - 0.5 * dz, ""),  # kept
        ("G", z_cluster + 0.99 * dz, ""),  # kept
        ("QSO", z_cluster + 0.2 * dz, ""),  # kept (a galaxy-like type)
        ("G", z_cluster + 1.5 * dz, ""),  # outside the window
        ("G", z_cluster, "PHOT" if schema == "legacy_schema" else "PLS"),  # photometric
        ("*", z_cluster, ""),  # a star
        ("GPair", z_cluster, ""),  # a pair entry, not a galaxy
        ("G", None, ""),  # a galaxy without a redshift
    ]
    for i, (obj_type, z, flag) in enumerate(edits):
        raw[c["type"]][i] = obj_type
        raw[c["flag"]][i] = flag
        if z is not None:
            raw[c["z"]][i] = z
            raw[c["cz"]][i] = z * C_KMS
    z = raw_floats(raw[c["z"]])
    types = raw_strings(raw[c["type"]])
    flags = raw_strings(raw[c["flag"]])
    expected = ((np.isin(types, ["G", "QSO", "EmLS"])) & (z >= z_min) & (z <= z_max)
                & ~np.isin(flags, ["PHOT", "PLS"]))
    return raw, np.flatnonzero(expected)


# -- parsing ---------------------------------------------------------------------


@pytest.mark.parametrize("schema", SCHEMAS)
@pytest.mark.parametrize("name", ["query_near_position", "query_near_name"])
def test_parse_recorded_searches(schema, name):
    raw = recorded(schema, name)
    t = ned.parse_ned_table(raw)
    c = RAW[schema]
    assert isinstance(t, QTable)
    assert t.colnames == list(ned.COLUMNS)
    assert len(t) == len(raw)
    for col, (unit, description) in ned.COLUMNS.items():
        if unit is None:
            assert not isinstance(t[col], u.Quantity)
        else:
            assert t[col].unit == unit
        assert t[col].info.description == description
    assert list(t["name"]) == list(raw_strings(raw[c["name"]]))
    assert np.allclose(t["ra"].to_value(u.deg), raw_floats(raw[c["ra"]]))
    assert np.allclose(t["dec"].to_value(u.deg), raw_floats(raw[c["dec"]]))
    assert np.allclose(t["separation"].to_value(u.arcmin), raw_floats(raw[c["sep"]]))
    assert list(t["type"]) == list(raw_strings(raw[c["type"]]))
    assert list(t["z_flag"]) == list(raw_strings(raw[c["flag"]]))
    assert np.array_equal(t["redshift"], raw_floats(raw[c["z"]]), equal_nan=True)
    assert np.allclose(t["velocity"].to_value(V_UNIT), raw_floats(raw[c["cz"]]), equal_nan=True)
    assert t.meta["ned_schema"] == schema.removesuffix("_schema")
    assert t.meta["n_objects"] == len(raw)
    assert t.meta["n_with_redshift"] == int(np.isfinite(raw_floats(raw[c["z"]])).sum())
    assert "clustermass_version" in t.meta and "date" in t.meta


def test_both_cone_searches_parse_alike():
    a = ned.parse_ned_table(recorded("legacy_schema", "query_near_position"))
    b = ned.parse_ned_table(recorded("new_api_schema", "query_near_position"))
    assert a.colnames == b.colnames
    for col in a.colnames:
        assert type(a[col]) is type(b[col]), col
        assert getattr(a[col], "unit", None) == getattr(b[col], "unit", None), col
        # Numbers are float64 in both; strings are str (their width follows the data).
        assert a[col].dtype.kind == b[col].dtype.kind, col
        if a[col].dtype.kind == "f":
            assert a[col].dtype == b[col].dtype == np.float64
    # Both are the cone around the Orion Trapezium.
    for t in (a, b):
        assert np.median(t["ra"].to_value(u.deg)) == pytest.approx(83.82, abs=0.02)
        assert np.median(t["dec"].to_value(u.deg)) == pytest.approx(-5.39, abs=0.02)
    # NED lists no redshift for any object there: blank (masked) values become NaN.
    assert np.isnan(a["redshift"]).all() and np.isnan(b["redshift"]).all()


def test_new_schema_redshift_is_the_value_not_the_count():
    raw = recorded("new_api_schema", "query_near_name")
    t = ned.parse_ned_table(raw)
    assert np.allclose(t["redshift"], raw_floats(raw["Redshift (z)"]))
    counts = np.asarray(raw["Redshift"], dtype=float)  # number of measurements
    assert not np.allclose(t["redshift"], counts)


@pytest.mark.parametrize("schema", SCHEMAS)
def test_redshift_table_is_not_a_cone_search(schema):
    with pytest.raises(NEDServiceError, match="not a NED cone search"):
        ned.parse_ned_table(recorded(schema, "query_redshifts"))


def test_votable_read_with_ids_gets_a_hint():
    raw = Table.read(path_of("new_api_schema", "query_near_position"), format="votable")
    with pytest.raises(NEDServiceError, match="use_names_over_ids=True"):
        ned.parse_ned_table(raw)


def test_parse_fills_velocity_from_redshift_and_handles_string_blanks():
    raw = Table({"Object Name": ["A", "B"], "RA": [1.0, 2.0], "DEC": [3.0, 4.0],
                 "Type": ["G", "G"], "Redshift": ["0.02", " "]})
    t = ned.parse_ned_table(raw)
    assert t["redshift"][0] == 0.02 and np.isnan(t["redshift"][1])
    assert t["velocity"][0].to_value(V_UNIT) == pytest.approx(0.02 * C_KMS)
    assert np.isnan(t["separation"]).all() and list(t["z_flag"]) == ["", ""]
    with pytest.raises(InvalidInputError, match="astropy Table"):
        ned.parse_ned_table({"Object Name": ["A"]})


# -- selection -------------------------------------------------------------------


@pytest.mark.parametrize("drop_photometric", [False, True])
def test_selection_on_recorded_redshifts(drop_photometric):
    # The one recording with redshifts: objects near M31 (molecular clouds etc.).
    raw = recorded("new_api_schema", "query_near_name")
    t = ned.parse_ned_table(raw)
    z = raw_floats(raw["Redshift (z)"])
    z_min, z_max = np.sort(z)[1], np.sort(z)[-2]  # inclusive bounds on recorded values
    technique = np.array([str(f).strip()[:1] for f in raw["z flag"]])
    expected = (z >= z_min) & (z <= z_max)
    if drop_photometric:
        expected &= ~np.isin(technique, ["P", "M", "I"])  # NED: photometric/modelled/inferred
    sel = ned.select_galaxies(t, z_min=z_min, z_max=z_max, types=None,
                              drop_photometric=drop_photometric)
    assert list(sel["name"]) == list(raw_strings(raw["Object Name"])[expected])
    counts = sel.meta["counts"]
    assert counts["kept"] == expected.sum()
    assert sum(v for k, v in counts.items() if k not in ("objects", "kept")) + len(sel) == len(t)


def test_selection_keeps_galaxies_only_and_says_why_nothing_is_left():
    t = ned.parse_ned_table(recorded("new_api_schema", "query_near_name"))
    with pytest.raises(InvalidInputError, match="no galaxy left among the 7 NED objects: 7 of"
                                                " other types"):
        ned.select_galaxies(t, z_min=0.0, z_max=0.01)


@pytest.mark.parametrize("schema", SCHEMAS)
def test_galaxies_without_redshift_are_counted(schema):
    raw = recorded(schema, "query_near_position")
    t = ned.parse_ned_table(raw)
    c = RAW[schema]
    n_gal = np.isin(raw_strings(raw[c["type"]]), ned.GALAXY_TYPES).sum()
    with pytest.raises(InvalidInputError, match=f" {n_gal} without a redshift"):
        ned.select_galaxies(t, z_min=0.01, z_max=0.02)


@pytest.mark.parametrize("schema", SCHEMAS)
def test_selection_window_matches_independent_expectation(schema, caplog):
    raw, expected = doctored_cone(schema, 0.05)
    z_min, z_max = redshift_window(0.05, 2500 * V_UNIT)
    with caplog.at_level("INFO", logger="clustermass"):
        sel = ned.select_galaxies(ned.parse_ned_table(raw), z_min=z_min, z_max=z_max)
    assert list(sel["name"]) == list(raw_strings(raw["Object Name"])[expected])
    assert len(sel) == 4
    counts = sel.meta["counts"]
    assert counts["non_spectroscopic"] == 1 and counts["outside_window"] == 1
    assert counts["no_redshift"] == np.isin(raw_strings(raw[RAW[schema]["type"]]),
                                            ned.GALAXY_TYPES).sum() - 6
    assert counts["other_types"] + counts["no_redshift"] + 2 + len(sel) == len(raw)
    assert "NED: kept 4 of" in caplog.text


@pytest.mark.parametrize(("flag", "dropped"), [
    ("", False), (":", False), ("?", False), ("1LIN", False), ("TENT", False), ("SN", False),
    ("PHOT", True), ("SED", True), ("EST", True), ("MOD", True), ("LUM", True), ("MFA", True),
    ("SLS", False), ("SLS?", False), ("S1L", False), ("UUN", False), ("LMU", False),
    ("PLS", True), ("PSE?", True), ("MUN", True), ("IUN", True), ("SFO", True), ("UML", True),
])
def test_redshift_flags(flag, dropped):
    t = QTable({"name": ["A"], "redshift": [0.05], "type": ["G"], "z_flag": [flag]})
    if dropped:
        with pytest.raises(InvalidInputError, match="1 with a non-spectroscopic redshift"):
            ned.select_galaxies(t, z_min=0.04, z_max=0.06)
    else:
        assert len(ned.select_galaxies(t, z_min=0.04, z_max=0.06)) == 1
    assert len(ned.select_galaxies(t, z_min=0.04, z_max=0.06, drop_photometric=False)) == 1


def test_selection_leaves_the_input_alone():
    t = QTable({"name": ["A", "B"], "redshift": [0.05, 0.2], "type": ["G", "G"],
                "z_flag": ["", ""]}, meta={"query": {"z_min": 0.04}})
    sel = ned.select_galaxies(t, z_min=0.04, z_max=0.06)
    sel.meta["query"]["z_min"] = 0.0
    assert t.meta == {"query": {"z_min": 0.04}} and len(t) == 2
    assert sel.meta["selection"] == {"z_min": 0.04, "z_max": 0.06, "types": ["G", "QSO", "EmLS"],
                                     "drop_photometric": True}


def test_selection_rejects_bad_input():
    t = QTable({"name": ["A"], "redshift": [0.05], "type": ["G"], "z_flag": [""]})
    with pytest.raises(InvalidInputError, match="finite z_min < z_max"):
        ned.select_galaxies(t, z_min=0.06, z_max=0.04)
    with pytest.raises(InvalidInputError, match="must be numbers"):
        ned.select_galaxies(t, z_min="low", z_max=0.04)
    with pytest.raises(InvalidInputError, match="parse_ned_table"):
        ned.select_galaxies(QTable({"redshift": [0.05]}), z_min=0.04, z_max=0.06)


# -- query_region: the call, the meta, the errors ------------------------------------


@pytest.mark.parametrize("schema", SCHEMAS)
def test_query_region_end_to_end(schema, fake_ned):
    raw, expected = doctored_cone(schema, 0.05)
    calls = fake_ned(raw)
    t = ned.query_region(ORION, redshift=0.05, cache=False, timeout=7)
    (call,) = calls
    # Queried by coordinates, with the angle of 1.6 h^-1 Mpc at z = 0.05 plus 2 %.
    assert isinstance(call["coordinates"], SkyCoord)
    assert call["coordinates"].separation(ORION) < 1e-6 * u.deg
    radius = angular_radius(1.6 * R_UNIT, 0.05, cosmology=Planck13) * 1.02
    assert u.isclose(call["radius"], radius) and call["radius"].unit == u.arcmin
    assert call["kwargs"] == {}  # astroquery 0.4.11 has no z_constraint
    assert call["timeout"] == 7 and Ned.TIMEOUT == conf.ned_timeout  # set, then restored
    assert list(t["name"]) == list(raw_strings(raw["Object Name"])[expected])
    z_min, z_max = redshift_window(0.05, 2500 * V_UNIT)
    assert t.meta["query"] == {
        "ra_deg": pytest.approx(83.822083), "dec_deg": pytest.approx(-5.391111),
        "radius_arcmin": pytest.approx(radius.to_value(u.arcmin)), "cluster_redshift": 0.05,
        "r_max_mpc_h": 1.6, "v_max_km_s": 2500.0, "z_min": pytest.approx(z_min),
        "z_max": pytest.approx(z_max), "cosmology": "Planck13", "server_side_z": False,
    }
    assert t.meta["ned_schema"] == schema.removesuffix("_schema")
    assert "NED" in t.meta["service"] and "NASA/IPAC" in t.meta["acknowledgement"]
    assert t.meta["counts"]["kept"] == 4 and t.meta["from_cache"] is False
    for key in ("date", "clustermass_version", "astroquery_version"):
        assert t.meta[key]


def test_query_region_sends_the_window_when_astroquery_can(monkeypatch):
    raw, expected = doctored_cone("new_api_schema", 0.05)
    calls = []

    def query_region(coordinates, *, radius, z_constraint="Unconstrained", z_value1=None,
                     z_value2=None, z_unit="z", max_rec=None):
        calls.append((z_constraint, z_value1, z_value2, z_unit))
        return raw.copy()  # NED may return more than asked: the window applies anyway

    monkeypatch.setattr(Ned, "query_region", query_region)
    t = ned.query_region(ORION, redshift=0.05, cache=False)
    z_min, z_max = redshift_window(0.05, 2500 * V_UNIT)
    assert calls == [("Between", pytest.approx(z_min), pytest.approx(z_max), "z")]
    assert len(t) == len(expected) and t.meta["query"]["server_side_z"] is True


def test_query_region_options(fake_ned):
    raw, _ = doctored_cone("legacy_schema", 0.05)
    calls = fake_ned(raw)
    t = ned.query_region(ORION, redshift=0.05, r_max=0.8 * R_UNIT, v_max=1000 * V_UNIT,
                         cosmology="Planck18", cache=False)
    radius = angular_radius(0.8 * R_UNIT, 0.05, cosmology="Planck18") * 1.02
    assert u.isclose(calls[0]["radius"], radius)
    assert t.meta["query"]["cosmology"] == "Planck18"
    assert t.meta["query"]["z_max"] == pytest.approx(0.05 + 1000 / C_KMS * 1.05)
    assert len(t) == 2  # only the two galaxies within +-1000 km/s


@pytest.mark.parametrize("center", ["Coma", SkyCoord([1, 2] * u.deg, [3, 4] * u.deg), None])
def test_query_region_wants_one_skycoord(center, fake_ned):
    calls = fake_ned(recorded("legacy_schema", "query_near_position"))
    with pytest.raises(InvalidInputError, match="scalar SkyCoord"):
        ned.query_region(center, redshift=0.05)
    assert not calls


@pytest.mark.parametrize("redshift", [0, -0.1, [0.1, 0.2], np.nan, "far", 0.1 * u.km])
def test_query_region_wants_a_positive_redshift(redshift, fake_ned):
    fake_ned(recorded("legacy_schema", "query_near_position"))
    with pytest.raises(InvalidInputError, match="redshift"):
        ned.query_region(ORION, redshift=redshift)


@pytest.mark.parametrize("timeout", [0, -1, "soon", 3 * u.km])
def test_query_region_wants_a_positive_timeout(timeout, fake_ned):
    fake_ned(recorded("legacy_schema", "query_near_position"))
    with pytest.raises(InvalidInputError, match="timeout"):
        ned.query_region(ORION, redshift=0.05, timeout=timeout)


def test_timeout_as_quantity(fake_ned):
    calls = fake_ned(doctored_cone("legacy_schema", 0.05)[0])
    ned.query_region(ORION, redshift=0.05, timeout=2 * u.min, cache=False)
    assert calls[0]["timeout"] == 120


@pytest.mark.parametrize("schema", SCHEMAS)
def test_recorded_error_replies(schema, fake_ned):
    # What the fake returns is what reading NED's error reply as a VOTable gives: an error.
    fake_ned(lambda: recorded(schema, "error"))
    with pytest.raises(NEDServiceError, match="not a VOTable.*try again later"):
        ned.query_region(ORION, redshift=0.05, cache=False)


@pytest.mark.parametrize("schema", SCHEMAS)
def test_recorded_error_replies_through_astroquerys_parser(schema, fake_ned):
    # What astroquery itself raises (RemoteServiceError, TableParseError) on the same bytes.
    with open(path_of(schema, "error"), "rb") as f:
        content = f.read()
    fake_ned(lambda: Ned._parse_result(_Response(content)))
    with pytest.raises(NEDServiceError, match="(RemoteServiceError|TableParseError)"):
        ned.query_region(ORION, redshift=0.05, cache=False)


@pytest.mark.parametrize(("error", "expected", "match"), [
    (RemoteServiceError("ERROR: No note found."), NEDServiceError, "No note found"),
    (TableParseError("Failed to parse NED result!"), NEDServiceError, "not a VOTable"),
    (ValueError("1:49: syntax error"), NEDServiceError, "1:49: syntax error"),
    (ExpatError("syntax error: line 1, column 49"), NEDServiceError, "not a VOTable"),
    (requests.exceptions.HTTPError("503 Server Error"), NEDServiceError, "HTTP error"),
    (requests.exceptions.ChunkedEncodingError("Connection broken"), NEDServiceError,
     "broken reply"),
    (requests.exceptions.ReadTimeout("read timeout=60"), NEDTimeoutError,
     "clustermass.conf.ned_timeout"),
    (requests.exceptions.ConnectTimeout("connect timeout"), NEDTimeoutError, "try again later"),
    (TimeoutError("timed out"), NEDTimeoutError, "offline snapshot"),
    (requests.exceptions.ConnectionError("Name resolution failed"), OfflineError,
     "cannot be reached.*from_table"),
    (OSError("An attempt was made to connect to the internet"), OfflineError,
     "cannot be reached"),
])
def test_failures_map_to_clustermass_errors(error, expected, match, fake_ned):
    fake_ned(error)
    with pytest.raises(expected, match=match) as info:
        ned.query_region(ORION, redshift=0.05, cache=False)
    assert not isinstance(info.value, type(error)) or isinstance(error, TimeoutError)
    assert Ned.TIMEOUT == conf.ned_timeout


def test_no_table_is_a_service_error(fake_ned):
    fake_ned(lambda: None)
    with pytest.raises(NEDServiceError, match="no table"):
        ned.query_region(ORION, redshift=0.05, cache=False)


# -- cache -------------------------------------------------------------------------


def test_cache_round_trip(fake_ned, tmp_cache):
    raw, expected = doctored_cone("new_api_schema", 0.05)
    calls = fake_ned(raw)
    t1 = ned.query_region(ORION, redshift=0.05, cache=True)
    files = list(tmp_cache.iterdir())
    assert [f.suffix for f in files] == [".ecsv"] and files[0].name.startswith("cone_")
    cached = QTable.read(files[0], format="ascii.ecsv")
    assert len(cached) == len(raw)  # the whole parsed reply, not only the selection
    t2 = ned.query_region(ORION, redshift=0.05, cache=True)
    assert len(calls) == 1  # the second came from the cache
    assert t2.meta["from_cache"] is True and t1.meta["from_cache"] is False
    assert t2.colnames == t1.colnames
    for col in t1.colnames:
        assert t2[col].dtype.kind == t1[col].dtype.kind
        assert getattr(t2[col], "unit", None) == getattr(t1[col], "unit", None)
        if t1[col].dtype.kind == "f":
            assert np.array_equal(np.asarray(t1[col]), np.asarray(t2[col]), equal_nan=True)
        else:
            assert list(t1[col]) == list(t2[col])  # '' survives (ECSV reads it as masked)
    assert t2.meta["query"] == t1.meta["query"] and t2.meta["date"] == t1.meta["date"]
    # Another window is another query.
    ned.query_region(ORION, redshift=0.05, v_max=2000 * V_UNIT, cache=True)
    assert len(calls) == 2 and len(list(tmp_cache.glob("cone_*.ecsv"))) == 2
    assert ned.clear_cache() == 2 and not list(tmp_cache.iterdir())


def test_cache_off(fake_ned, tmp_cache):
    calls = fake_ned(doctored_cone("legacy_schema", 0.05)[0])
    ned.query_region(ORION, redshift=0.05, cache=False)
    with conf.set_temp("ned_cache", False):
        ned.query_region(ORION, redshift=0.05)
    assert len(calls) == 2 and not list(tmp_cache.iterdir())


def test_unusable_cache_directory(fake_ned, monkeypatch, caplog):
    calls = fake_ned(doctored_cone("legacy_schema", 0.05)[0])

    def no_cache_dir():
        raise PermissionError("read-only file system")

    monkeypatch.setattr(ned, "cache_dir", no_cache_dir)
    with caplog.at_level("WARNING", logger="clustermass"):
        t = ned.query_region(ORION, redshift=0.05, cache=True)
    assert len(t) == 4 and len(calls) == 1
    assert "cache directory cannot be used" in caplog.text


@pytest.mark.parametrize("garbage", [
    "# %ECSV 1.0\n# ---\n# datatype: [\ngarbage\x00\n",  # broken YAML header
    "",  # empty file
    "# %ECSV 1.0\n# ---\n# datatype:\n# - {name: x, datatype: float64}\n# schema: astropy-2.0\n"
    "x\n1.0\n",  # a valid ECSV, but not ours
])
def test_corrupt_cache_is_ignored_and_refetched(garbage, fake_ned, tmp_cache, caplog):
    calls = fake_ned(doctored_cone("legacy_schema", 0.05)[0])
    t1 = ned.query_region(ORION, redshift=0.05, cache=True)
    (path,) = tmp_cache.glob("cone_*.ecsv")
    path.write_text(garbage)
    with caplog.at_level("WARNING", logger="clustermass"):
        t2 = ned.query_region(ORION, redshift=0.05, cache=True)
    assert len(calls) == 2 and len(t2) == len(t1)
    assert "Ignoring the unreadable NED cache file" in caplog.text
    t3 = ned.query_region(ORION, redshift=0.05, cache=True)  # rewritten, readable again
    assert len(calls) == 2 and t3.meta["from_cache"] is True


def test_cache_write_is_atomic(fake_ned, tmp_cache, monkeypatch, caplog):
    fake_ned(doctored_cone("legacy_schema", 0.05)[0])

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with caplog.at_level("WARNING", logger="clustermass"):
        t = ned.query_region(ORION, redshift=0.05, cache=True)
    assert len(t) == 4  # the query itself still succeeds
    assert "Could not write the NED cache file" in caplog.text
    assert not list(tmp_cache.iterdir())  # neither a half-written file nor a temporary one


def test_interrupted_write_leaves_old_file(tmp_cache, monkeypatch):
    path = tmp_cache / "cone_test.ecsv"
    path.write_text("old")
    table = QTable({"x": [1.0, 2.0]})

    def half_write(self, f, **kwargs):
        f.write("# %ECSV 1.0\n# ---\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(QTable, "write", half_write)
    with pytest.raises(KeyboardInterrupt):
        ned._write_cache(table, path)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_cache.iterdir()] == ["cone_test.ecsv"]


# -- packaging ---------------------------------------------------------------------


def test_import_does_not_pull_in_astroquery_or_tensorflow():
    code = ("import sys, clustermass.ned, clustermass.clusters;"
            " print('astroquery' in sys.modules, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]
