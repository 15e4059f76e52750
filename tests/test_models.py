"""Tests of `clustermass.models.load_model`, the one resolver of model specifications."""

import subprocess
import sys

import pytest

from clustermass.baselines import MSIGMA, MSigmaEstimator
from clustermass.exceptions import InvalidInputError
from clustermass.models import (
    DEFAULT_MODEL,
    MODEL_NAMES,
    MSIGMA_NAMES,
    PRETRAINED_MODELS,
    load_model,
)


@pytest.mark.parametrize("name", ["msigma", "M-sigma", "EVRARD08", " msigma "])
def test_msigma_names(name):
    assert load_model(name) is MSIGMA


def test_msigma_estimator_is_passed_through():
    mine = MSigmaEstimator(name="mine")
    assert load_model(mine) is mine
    assert mine.grid == MSIGMA.grid
    assert "Evrard" in MSIGMA.label


def test_pretrained_names_match_the_flow():
    from clustermass.flow import PRETRAINED_KINDS

    assert tuple(PRETRAINED_KINDS) == PRETRAINED_MODELS
    assert DEFAULT_MODEL in PRETRAINED_MODELS
    assert set(MODEL_NAMES) == set(PRETRAINED_MODELS) | set(MSIGMA_NAMES)


@pytest.mark.parametrize("spec", ["uniform", "", 42, 3.5, ["msigma"]])
def test_unknown_specs_list_the_accepted_names(spec):
    with pytest.raises(InvalidInputError, match="model must be one of 'contaminated', 'pure'"):
        load_model(spec)


def test_a_missing_directory_is_an_error(tmp_path):
    with pytest.raises(InvalidInputError, match="neither a model name nor a directory"):
        load_model(tmp_path / "nope")


def test_shipped_flows_and_directories(tmp_path):
    from clustermass.flow import MassFlow

    flow = load_model("Pure")
    assert isinstance(flow, MassFlow)
    assert load_model(flow) is flow
    assert isinstance(load_model(None), MassFlow)
    flow.save(tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert isinstance(loaded, MassFlow) and loaded.grid == flow.grid
    assert isinstance(load_model(str(tmp_path / "model")), MassFlow)


def test_importing_models_is_light():
    code = ("import sys, clustermass.models;"
            " print('clustermass.flow' in sys.modules, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]
