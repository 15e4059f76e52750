"""Tests of the clustermass command line."""

import json

import pytest

from clustermass.cli import main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_infer_json_msigma(capsys):
    code, out, err = run(capsys, "infer", "Coma", "--method", "msigma", "--json", "--offline")
    assert code == 0
    result = json.loads(out)
    assert {"cluster", "method", "log10_m200c", "log10_m200c_std", "n_galaxies",
            "source"} <= set(result)
    assert result["cluster"] == "Coma" and result["method"] == "msigma"
    assert result["n_galaxies"] == 672
    assert 14.5 < result["log10_m200c"] < 15.2
    assert 0.02 < result["log10_m200c_std"] < 0.2


def test_infer_text_and_plot(capsys, tmp_path):
    png = tmp_path / "a1689.png"
    code, out, err = run(capsys, "infer", "A1689", "--method", "msigma", "--offline",
                         "--plot", str(png))
    assert code == 0
    assert out.startswith("A1689: log10[M200c / (h^-1 Msun)] = ")
    assert "galaxies in window" in out
    assert png.stat().st_size > 10_000


@pytest.mark.parametrize(
    "args, message",
    [
        (["infer", "Virgo"], "unknown cluster 'Virgo'"),
        (["infer", "10.0,20.0"], "a centre without a redshift"),
        (["infer", "A85", "--offline", "--method", "msigma"], "no offline snapshot"),
    ],
)
def test_clear_errors(capsys, args, message):
    code, out, err = run(capsys, *args)
    assert code == 2
    assert err.startswith("clustermass: error: ")
    assert message in err
    assert "Traceback" not in err


def test_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("infer", "mock", "mock-validate", "train", "evaluate", "table1"):
        assert command in out


def test_model_aliases_give_the_same_result(capsys):
    # One resolver (clustermass.models.load_model) for every entry point.
    results = []
    for method in ("msigma", "M-sigma", "evrard08"):
        code, out, err = run(capsys, "infer", "Coma", "--method", method, "--json", "--offline")
        assert code == 0
        results.append(json.loads(out))
    assert results[0] == results[1] == results[2]


def test_evaluate_wants_flows(capsys):
    # M-sigma is evaluated alongside the flows; as the model it is a clear error.
    code, out, err = run(capsys, "evaluate", "msigma", "missing.h5")
    assert code == 2
    assert err.startswith("clustermass: error: ") and "msigma" in err


def test_broken_import_is_an_error_not_a_missing_subcommand(capsys, monkeypatch):
    import sys

    # A module that cannot be imported (None in sys.modules raises ImportError).
    monkeypatch.setitem(sys.modules, "clustermass.workflows", None)
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "table1" in capsys.readouterr().out
    with pytest.raises(ImportError):
        main(["table1", "--offline"])
