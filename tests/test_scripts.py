"""The analysis scripts in scripts/ (the numbers quoted in the docs come from them)."""

import importlib.util
import math
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_velocity_bias_floor_is_the_propagated_scatter():
    floor = _load("information_floor").velocity_bias_floor
    # sigma_v ~ M^alpha (Evrard et al. 2008, alpha = 0.3361): a 5 % (natural-log)
    # scatter of the velocity bias is 0.05 / ln 10 / alpha dex in mass.
    assert floor({"velocity_bias_scatter": 0.05}) == pytest.approx(0.05 / math.log(10) / 0.3361)
    assert floor({"velocity_bias_scatter": 0.0}) == 0.0


def test_information_floor_on_a_small_catalogue(tmp_path):
    from clustermass import mocks

    path = tmp_path / "test.h5"
    mocks.generate(path, kind="pure", split="test", n_clusters=400, seed=5, progress=False)
    r = _load("information_floor").floors(path, high_mass=14.0)
    assert r["kind"] == "pure" and r["n_clusters"] == 400
    assert r["velocity_bias_floor_dex"] == pytest.approx(0.0646, abs=1e-4)
    assert 0.05 < r["msigma_scatter_dex"] < 0.6
    # rms^2 = bias^2 + scatter^2 (up to the n/(n-1) of the sample variance)
    n = r["n_logM_ge_14.0"]
    assert r["msigma_rms_dex"] ** 2 == pytest.approx(
        r["msigma_bias_dex"] ** 2 + r["msigma_scatter_dex"] ** 2 * (n - 1) / n, rel=1e-9)
    assert 0 < r["true_log_mass_spread_dex"] < 0.6
    assert r["median_galaxies_in_window"] >= 10


def test_compare_configs_reads_json_overrides():
    from clustermass.exceptions import InvalidInputError

    build = _load("compare_configs").build_config
    config = build("default", ["augment_thin=[0.75,1.0]", "pool=2", "activation=relu"])
    assert config.augment_thin == (0.75, 1.0)
    assert config.pool == 2 and config.activation == "relu" and config.name == "default"
    assert build("default", ["augment_thin=null"]).augment_thin is None
    with pytest.raises(InvalidInputError, match="NAME=VALUE"):
        build("default", ["pool"])


@pytest.mark.parametrize("name", ["compare_configs", "ensemble_gain", "information_floor",
                                  "thinning_robustness", "validate_mocks"])
def test_scripts_use_public_api_only(name):
    import ast

    tree = ast.parse((SCRIPTS / f"{name}.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("clustermass"):
            assert not any(part.startswith("_") for part in node.module.split(".")), node.module
            assert not any(a.name.startswith("_") for a in node.names), node.module
        elif isinstance(node, ast.Import):
            for a in node.names:
                assert not any(p.startswith("_") for p in a.name.split(".")), a.name
