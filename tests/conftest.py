"""Shared pytest fixtures for the clustermass tests."""

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path, monkeypatch):
    """Keep tests away from the user's cache and make plots headless."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    from clustermass import conf

    with conf.set_temp("show_progress", False):
        yield


@pytest.fixture
def rng():
    """A seeded random generator (sbi-style fixed seed)."""
    return np.random.default_rng(12345)
