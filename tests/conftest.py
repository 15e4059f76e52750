"""Shared pytest fixtures for the clustermass tests."""

# astroquery redirects warnings to its logger when it is first imported. Import it
# before any test so that this happens outside pytest.warns() blocks, which then see
# the warnings that clustermass issues after a NED call.
import astroquery.ipac.ned  # noqa: F401
import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path, monkeypatch):
    """Keep tests away from the user's cache and make plots headless."""
    (tmp_path / "cache" / "astropy").mkdir(parents=True)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    from clustermass import conf, log

    level = log.level
    with conf.set_temp("show_progress", False):
        yield
    log.setLevel(level)  # the CLI changes it


@pytest.fixture
def rng():
    """A seeded random generator (sbi-style fixed seed)."""
    return np.random.default_rng(12345)
