"""Tests of the stress suite (`clustermass.stress`, ``clustermass stress``)."""

import json
import os

import numpy as np
import pytest

pytest.importorskip("tensorflow_probability")

from clustermass.cli import main  # noqa: E402
from clustermass.exceptions import InvalidInputError  # noqa: E402
from clustermass.mocks import SyntheticUniverse, generate  # noqa: E402
from clustermass.stress import (  # noqa: E402
    STRESS_SETS,
    TARGETS,
    StressSet,
    run_stress,
    stress_summary,
    thinning_shifts,
    to_json_dict,
)
from clustermass.workflows import evaluate_models, load_model  # noqa: E402

N = 150
SEED = 2
METRICS = ["bias", "scatter", "rms", "cov68", "cov95"]
COLUMNS = (["set", "target", "status", "overrides", "n", *METRICS, "n_high"]
           + [f"{m}_high" for m in METRICS]
           + ["bias_expected", "bias_ok", "bias_high_ok", "cov68_ok", "cov95_ok"])


@pytest.fixture(scope="module")
def two_sets():
    return run_stress("contaminated", n=N, seed=SEED, sets=["nominal", "vbias_0.95"],
                      progress=False)


def test_table_structure(two_sets):
    t = two_sets
    assert t.colnames == COLUMNS
    assert list(t["set"]) == ["nominal", "vbias_0.95"]
    assert list(t["target"]) == ["nominal", "honest"]
    assert list(t["status"]) == ["ok", "ok"]
    assert list(t["n"]) == [N, N]
    assert all(2 <= n < N for n in t["n_high"])
    for m in METRICS:
        assert np.all(np.isfinite(t[m]))
    assert np.all((t["cov68"] >= 0) & (t["cov68"] <= t["cov95"]) & (t["cov95"] <= 1))
    assert np.allclose(t["rms"] ** 2, t["bias"] ** 2 + t["scatter"] ** 2 * (N - 1) / N)
    meta = t.meta
    assert meta["model"] == "contaminated" and meta["kind"] == "contaminated"
    assert meta["n"] == N and meta["seed"] == SEED and meta["high_mass"] == 14.4
    assert meta["targets"] == TARGETS and "clustermass" in meta["versions"]


def test_targets_follow_the_numbers(two_sets):
    nominal, vbias = two_sets
    lo, hi = TARGETS["cov68_range"]
    expect = {
        "bias_ok": abs(nominal["bias"]) <= 0.05,
        "bias_high_ok": abs(nominal["bias_high"]) <= 0.05,
        "cov68_ok": lo <= nominal["cov68"] <= hi,
        "cov95_ok": nominal["cov95"] >= 0.90,
    }
    for col, ok in expect.items():
        assert nominal[col] == ("PASS" if ok else "FAIL")
    # Velocity bias is degenerate with mass: only the coverage is a target.
    assert vbias["bias_ok"] == "-" and vbias["bias_high_ok"] == "-"
    assert vbias["cov68_ok"] in ("PASS", "FAIL") and vbias["cov95_ok"] in ("PASS", "FAIL")
    assert vbias["bias_expected"] == pytest.approx(np.log10(0.95) / 0.3361)
    assert np.isnan(nominal["bias_expected"])


def test_rows_match_the_evaluation_loop(two_sets, tmp_path):
    # The velocity-bias row is the public evaluation of a catalogue made with its overrides.
    row = two_sets[1]
    overrides = json.loads(row["overrides"])
    assert overrides in ({"velocity_bias_range": [0.95, 0.95]}, {"velocity_bias": 0.95})
    path = generate(tmp_path / "vb.h5", kind="contaminated", split="test", n_clusters=N,
                    seed=SEED, progress=False, **overrides)
    res = evaluate_models({"f": load_model("contaminated")}, path, msigma=False)
    head = res.headline("f")
    assert row["bias"] == pytest.approx(head["bias"], abs=1e-12)
    assert row["scatter"] == pytest.approx(head["scatter"], abs=1e-12)
    assert row["cov68"] == pytest.approx(head["coverage_68"], abs=1e-12)
    assert row["cov95"] == pytest.approx(head["coverage_95"], abs=1e-12)
    high = res.truth >= 14.4
    assert row["n_high"] == high.sum()
    res_high = np.asarray(res.estimators["f"]["prediction"])[high] - res.truth[high]
    assert row["bias_high"] == pytest.approx(np.mean(res_high), abs=1e-12)
    # and it differs from the nominal set, which shares its hosts
    assert row["bias"] != two_sets[0]["bias"]


def test_same_seed_same_table(two_sets):
    again = run_stress("contaminated", n=N, seed=SEED, sets=["nominal"], progress=False)
    for col in ["n", "n_high", *METRICS, *(f"{m}_high" for m in METRICS)]:
        assert again[col][0] == two_sets[col][0], col
    other = run_stress("contaminated", n=N, seed=SEED + 1, sets=["nominal"], progress=False)
    assert other["bias"][0] != two_sets["bias"][0]


def test_unavailable_set_is_listed_not_skipped():
    sets = {"imaginary": StressSet("robust", "a parameter no universe has",
                                   ({"no_such_parameter_range": [1.0, 1.0]},))}
    t = run_stress("contaminated", n=60, sets=sets, progress=False)
    (row,) = t
    assert row["status"] == ("unavailable: SyntheticUniverse has no parameter"
                             " 'no_such_parameter_range'")
    assert row["n"] == 0 and np.isnan(row["bias"]) and np.isnan(row["cov68"])
    assert [row[c] for c in ("bias_ok", "bias_high_ok", "cov68_ok", "cov95_ok")] == ["n/a"] * 4
    summary = stress_summary(t)
    assert summary == {"n_targets": 0, "n_pass": 0, "failed": [],
                       "unavailable": ["imaginary"], "all_pass": False}
    d = to_json_dict(t)
    assert d["sets"][0]["bias"] is None and d["sets"][0]["overrides"] is None
    json.dumps(d, allow_nan=False)


def test_stress_set_alternatives():
    spec = StressSet("robust", "x", ({"new_range": [2.0, 2.0]}, {"old": 2.0}))
    assert spec.resolve(["old"]) == ({"old": 2.0}, "")
    assert spec.resolve(["old", "new_range"]) == ({"new_range": [2.0, 2.0]}, "")
    overrides, reason = spec.resolve(["other"])
    assert overrides is None and reason == ("SyntheticUniverse has no parameter 'new_range'"
                                            " / 'old'")


def test_shipped_sets_use_known_parameters():
    names = SyntheticUniverse.parameter_names()
    default = SyntheticUniverse()
    assert set(STRESS_SETS) == {"nominal", "galaxies_x0.5", "galaxies_x2", "interlopers_x2",
                                "radial_anisotropy", "z_0.03", "z_0.25", "vbias_0.95",
                                "vbias_1.05", "vbias_0.9", "vbias_1.1"}
    kinds = {k: s.target for k, s in STRESS_SETS.items()}
    assert [k for k, v in kinds.items() if v == "honest"] == ["vbias_0.95", "vbias_1.05"]
    assert [k for k, v in kinds.items() if v == "report"] == ["vbias_0.9", "vbias_1.1"]
    # The fallbacks of the galaxy-count sets halve and double today's richness.
    assert STRESS_SETS["galaxies_x0.5"].overrides[-1] == {"richness_15": 0.5
                                                          * default.richness_15}
    assert STRESS_SETS["galaxies_x2"].overrides[-1] == {"richness_15": 2 * default.richness_15}
    for name in ("nominal", "galaxies_x0.5", "galaxies_x2", "z_0.03", "vbias_0.95"):
        overrides, _ = STRESS_SETS[name].resolve(names)
        assert overrides is not None, name
        SyntheticUniverse(**overrides)  # valid values


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 10}, "n must be an integer >= 50"),
    ({"sets": ["bogus"]}, "unknown stress sets"),
    ({"sets": []}, "at least one stress set"),
    ({"kind": "dirty"}, "kind must be one of"),
])
def test_run_stress_errors(kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        run_stress("contaminated", progress=False, **kwargs)


def test_run_stress_wants_a_flow():
    with pytest.raises(InvalidInputError, match="the stress suite evaluates flows"):
        run_stress("msigma", n=60, progress=False)


def test_stress_set_errors():
    with pytest.raises(InvalidInputError, match="target must be one of"):
        StressSet("strict", "x")
    with pytest.raises(InvalidInputError, match="non-empty tuple of dicts"):
        StressSet("robust", "x", ())


def test_thinning_a1689():
    t = thinning_shifts("contaminated", fractions=(0.7, 0.5), n_draws=2, clusters=["A1689"],
                        seed=1, progress=False)
    assert t.colnames == ["cluster", "fraction", "n_draws", "n_galaxies",
                          "n_galaxies_thinned", "log_m", "log_m_std", "mean_shift_sigma",
                          "shift_spread_sigma", "shift_err_sigma", "std_ratio", "n_warned",
                          "max_shift", "shift_ok"]
    assert list(t["cluster"]) == ["A1689", "A1689"] and list(t["fraction"]) == [0.7, 0.5]
    assert list(t["n_galaxies"]) == [143, 143]
    # round(f * 499) galaxies are kept; about f of those in the window are
    assert 0.5 * 143 < t["n_galaxies_thinned"][0] < 0.9 * 143
    assert 0.3 * 143 < t["n_galaxies_thinned"][1] < 0.7 * 143
    assert np.all(np.isfinite(t["mean_shift_sigma"])) and np.all(t["shift_spread_sigma"] > 0)
    assert np.all(t["std_ratio"] > 0.8)
    assert t["shift_ok"][0] == "-" and np.isnan(t["max_shift"][0])
    assert t["max_shift"][1] == 0.3
    assert t["shift_ok"][1] == ("PASS" if abs(t["mean_shift_sigma"][1]) < 0.3 else "FAIL")
    again = thinning_shifts("contaminated", fractions=(0.5,), n_draws=2, clusters=["A1689"],
                            seed=1, progress=False)
    assert again["mean_shift_sigma"][0] == t["mean_shift_sigma"][1]


@pytest.mark.parametrize("kwargs, message", [
    ({"fractions": [1.2]}, "fractions must lie in"),
    ({"n_draws": 1}, "n_draws must be an integer >= 2"),
    ({"clusters": ["A2142"]}, "cannot thin 'A2142'"),
])
def test_thinning_errors(kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        thinning_shifts("contaminated", progress=False, **kwargs)


def test_cli_json(capsys):
    code = main(["-q", "stress", "contaminated", "--n", "60", "--seed", "1", "--sets",
                 "nominal", "--draws", "2", "--json"])
    out, _ = capsys.readouterr()
    assert code == 0
    d = json.loads(out)
    assert set(d) == {"meta", "sets", "thinning", "thinning_meta", "summary"}
    assert [r["set"] for r in d["sets"]] == ["nominal"] and d["sets"][0]["n"] == 60
    assert d["sets"][0]["overrides"] == {}
    assert [(r["cluster"], r["fraction"]) for r in d["thinning"]] == [
        ("Coma", 0.7), ("Coma", 0.5), ("Coma", 0.3), ("A1689", 0.7), ("A1689", 0.5),
        ("A1689", 0.3)]
    s = d["summary"]
    assert s["n_targets"] == 4 + 4 and s["n_pass"] == 8 - len(s["failed"])


def test_cli_text(capsys, tmp_path):
    saved = tmp_path / "stress.json"
    code = main(["-q", "stress", "contaminated", "--n", "60", "--sets", "nominal",
                 "--no-thinning", "--save-json", str(saved)])
    out, _ = capsys.readouterr()
    assert code == 0
    # --save-json writes the JSON of the same run beside the printed table.
    d = json.loads(saved.read_text())
    assert "thinning" not in d
    assert [r["set"] for r in d["sets"]] == ["nominal"] and d["sets"][0]["n"] == 60
    assert f"{d['sets'][0]['bias']:.3f}" in out
    assert out.startswith("stress suite: model contaminated (default), contaminated test sets"
                          " of 60 clusters, seed 0")
    assert "nominal" in out and "thinning" not in out
    last = out.strip().splitlines()[-1]
    assert last.startswith("summary: ") and "of 4 targets met" in last


def test_cli_rejects_unknown_set(capsys):
    with pytest.raises(SystemExit):
        main(["stress", "contaminated", "--sets", "bogus"])
    assert "invalid choice: 'bogus'" in capsys.readouterr().err


def test_no_files_left_behind(tmp_path, monkeypatch):
    import tempfile

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    run_stress("contaminated", n=60, sets=["nominal"], progress=False)
    assert os.listdir(scratch) == []
