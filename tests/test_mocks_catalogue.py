"""Tests of mock catalogue generation, files, reproducibility and the CLI."""

import hashlib

import h5py
import numpy as np
import pytest
from astropy import units as u

from clustermass.exceptions import InvalidInputError
from clustermass.mocks import MockCatalogue, SyntheticUniverse, generate, load
from clustermass.mocks import catalogue as C
from clustermass.phasespace import R_UNIT, V_UNIT, PhaseSpaceGrid


def _md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Small pure and contaminated test catalogues with the same seed."""
    d = tmp_path_factory.mktemp("mocks")
    paths = {}
    for kind, n in (("pure", 25), ("contaminated", 60)):
        paths[kind] = generate(d / f"{kind}.h5", kind=kind, split="test", n_clusters=n,
                               seed=11, progress=False)
    return paths


def test_load_roundtrip_columns_units_meta(small):
    cat = load(small["contaminated"])
    assert isinstance(cat, MockCatalogue) and len(cat) == 60
    assert repr(cat).startswith("MockCatalogue(kind='contaminated', split='test', n_clusters=60")
    cl, gal = cat.clusters, cat.galaxies
    for name in ("cluster_id", "host_id", "log_m200c", "r200c", "n_galaxies", "los", "seed"):
        assert name in cl.colnames
    assert cl["r200c"].unit == R_UNIT and gal["R"].unit == R_UNIT and gal["v"].unit == V_UNIT
    assert cl["los"].shape == (60, 3)
    assert np.allclose(np.linalg.norm(cl["los"], axis=1), 1)
    assert np.array_equal(cl["cluster_id"], np.arange(60))
    assert np.array_equal(cat.n_galaxies, cl["n_galaxies"])
    assert np.all(cat.n_galaxies >= 10)
    assert np.all(gal["R"] < 1.6 * R_UNIT) and np.all(np.abs(gal["v"]) < 2500 * u.km / u.s)
    assert np.all(cat.log_mass >= 13.5) and np.all(cat.log_mass <= 15.3)
    assert np.array_equal(cat.host_id, cl["host_id"])
    assert np.all(cl["seed"] == 11)
    meta = cat.meta
    assert meta["kind"] == "contaminated" and meta["split"] == "test" and meta["seed"] == 11
    assert meta["universe"] == SyntheticUniverse().to_dict()
    assert {"clustermass", "numpy", "colossus", "h5py"} <= set(meta["versions"])
    assert meta["n_galaxies"] == len(gal)


def test_histograms_on_any_grid(small):
    cat = load(small["contaminated"])
    grid = PhaseSpaceGrid(n_r=5, n_v=8)
    h = cat.histograms(grid)
    assert h.shape == (60, 5, 8) and h.dtype == np.float32
    inside = grid.contains(cat.galaxies["R"], cat.galaxies["v"])
    assert h.sum() == inside.sum()
    one = grid.histogram(cat.cluster(3)["R"], cat.cluster(3)["v"])
    assert np.array_equal(h[3], one)
    thin = cat.histograms(grid, thin=0.5, seed=1)
    assert thin.sum() < h.sum() and np.all(thin <= h)
    assert np.array_equal(thin, cat.histograms(grid, thin=0.5, seed=1))
    with pytest.raises(InvalidInputError, match="thin"):
        cat.histograms(grid, thin=0.0)
    assert cat.histograms().shape == (60, 50, 50)


def test_thinned_keeps_clusters_and_a_subset_of_galaxies(small):
    cat = load(small["contaminated"])
    # One probability: about that fraction of each cluster's galaxies survive.
    half = cat.thinned(0.5, seed=3)
    assert len(half) == len(cat) and np.array_equal(half.log_mass, cat.log_mass)
    assert np.array_equal(half.clusters["n_galaxies"], half.n_galaxies)
    assert np.all(half.n_galaxies <= cat.n_galaxies)
    assert abs(half.n_galaxies.sum() / cat.n_galaxies.sum() - 0.5) < 0.02
    assert half.meta["thinned"] == {"fraction": [0.5, 0.5], "seed": 3}
    # A range: each cluster draws its own probability in it, and the galaxies it
    # keeps follow that probability.
    some = cat.thinned((0.3, 0.9), seed=4)
    p = np.asarray(some.clusters["keep_fraction"])
    assert np.all((p >= 0.3) & (p <= 0.9)) and p.std() > 0.1
    kept = some.n_galaxies / cat.n_galaxies
    assert np.corrcoef(p, kept)[0, 1] > 0.8
    # The survivors are galaxies of the same cluster, unchanged; same seed, same result.
    g0, g1 = cat.cluster(5), some.cluster(5)
    assert set(np.asarray(g1["v"])) <= set(np.asarray(g0["v"]))
    assert np.array_equal(cat.thinned((0.3, 0.9), seed=4).galaxies["v"], some.galaxies["v"])
    for bad in (0.0, 1.5, (0.9, 0.3), (0.1, 0.2, 0.3), "half"):
        with pytest.raises(InvalidInputError, match="fraction"):
            cat.thinned(bad)


def test_pure_is_subset_of_contaminated(small):
    pure, cont = load(small["pure"]), load(small["contaminated"])
    assert np.all(pure.galaxies["member"])
    keys = {(int(h), int(j)): i for i, (h, j) in
            enumerate(zip(cont.clusters["host_id"], cont.clusters["los_index"], strict=True))}
    max_host = int(cont.clusters["host_index"].max())
    checked = 0
    for i in range(len(pure)):
        if int(pure.clusters["host_index"][i]) > max_host:
            continue
        key = (int(pure.clusters["host_id"][i]), int(pure.clusters["los_index"][i]))
        assert key in keys  # a pure cluster is never dropped from the contaminated set
        gp = pure.cluster(i)
        gc = cont.cluster(keys[key])
        gcm = gc[np.asarray(gc["member"])]
        assert np.array_equal(np.sort(gp["v"].value), np.sort(gcm["v"].value))
        assert len(gc) >= len(gp)
        checked += 1
    assert checked >= 10


def test_same_seed_same_bytes_and_jobs_independent(tmp_path):
    kw = dict(kind="contaminated", split="train", n_clusters=120, seed=5, progress=False)
    a = generate(tmp_path / "a.h5", **kw)
    b = generate(tmp_path / "b.h5", **kw)
    assert _md5(a) == _md5(b)
    c = generate(tmp_path / "c.h5", jobs=2, **kw)
    assert _md5(a) == _md5(c)
    d = generate(tmp_path / "d.h5", **{**kw, "seed": 6})
    assert _md5(a) != _md5(d)
    # no object timestamps in the file (c was written seconds after a)
    with h5py.File(a) as f:
        for name in ("clusters", "galaxies", "galaxies/R", "clusters/los"):
            assert h5py.h5o.get_info(f[name].id).mtime == 0
    assert not list(tmp_path.glob("*.tmp"))


def test_chunking_does_not_change_the_catalogue(tmp_path, monkeypatch):
    kw = dict(kind="pure", split="test", n_clusters=40, seed=9, progress=False)
    a = load(generate(tmp_path / "a.h5", **kw))
    monkeypatch.setattr(C, "HOSTS_PER_CHUNK", 7)
    b = load(generate(tmp_path / "b.h5", **kw))
    assert np.array_equal(a.clusters["host_id"], b.clusters["host_id"])
    assert np.array_equal(a.galaxies["v"], b.galaxies["v"])


def test_no_host_in_both_splits(tmp_path):
    kw = dict(kind="contaminated", n_clusters=40, seed=3, progress=False)
    tr = load(generate(tmp_path / "train.h5", split="train", **kw))
    te = load(generate(tmp_path / "test.h5", split="test", **kw))
    assert not set(tr.host_id) & set(te.host_id)
    assert not set(np.round(tr.log_mass, 12)) & set(np.round(te.log_mass, 12))
    # host ids carry the split, the seed and the host index
    assert C.host_id(3, "train", 0) != C.host_id(3, "test", 0)
    assert C.host_id(3, "train", 0) != C.host_id(4, "train", 0)


def test_parameter_overrides_are_recorded(tmp_path):
    p = generate(tmp_path / "x.h5", kind="pure", split="test", n_clusters=5, seed=1,
                 progress=False, richness_15=300.0)
    assert load(p).meta["universe"]["richness_15"] == 300.0
    uni = SyntheticUniverse(richness_15=250.0)
    p = generate(tmp_path / "y.h5", kind="pure", split="test", n_clusters=5, seed=1,
                 progress=False, universe=uni, velocity_bias=1.05)
    meta = load(p).meta["universe"]
    assert meta["richness_15"] == 250.0 and meta["velocity_bias"] == 1.05


@pytest.mark.parametrize("kw, match", [
    (dict(n_clusters=0), "n_clusters"),
    (dict(n_clusters=-3), "n_clusters"),
    (dict(n_clusters=2.5), "n_clusters"),
    (dict(kind="dirty"), "kind"),
    (dict(split="validation"), "split"),
    (dict(seed=-1), "seed"),
    (dict(jobs=0), "jobs"),
    (dict(richnes_15=3.0), "unknown mock parameters"),
    (dict(richness_15=-3.0), "richness_15"),
])
def test_bad_arguments(tmp_path, kw, match):
    args = dict(kind="pure", split="test", n_clusters=5, seed=1, progress=False)
    args.update(kw)
    with pytest.raises(InvalidInputError, match=match):
        generate(tmp_path / "x.h5", **args)


def test_unwritable_or_existing_output(tmp_path):
    args = dict(kind="pure", split="test", n_clusters=3, seed=1, progress=False)
    with pytest.raises(InvalidInputError, match="not a directory"):
        generate(tmp_path / "missing" / "x.h5", **args)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        import os

        if not os.access(ro, os.W_OK):  # root can write anywhere
            with pytest.raises(InvalidInputError, match="not writable"):
                generate(ro / "x.h5", **args)
    finally:
        ro.chmod(0o700)
    p = generate(tmp_path / "x.h5", **args)
    with pytest.raises(InvalidInputError, match="exists"):
        generate(p, **args)
    generate(p, overwrite=True, **args)


def test_failure_leaves_no_partial_file(tmp_path, monkeypatch):
    def boom(self, rows, gals):
        raise RuntimeError("disk full")

    monkeypatch.setattr(C._Writer, "append", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        generate(tmp_path / "x.h5", kind="pure", split="test", n_clusters=3, seed=1,
                 progress=False)
    assert not list(tmp_path.glob("x.h5*"))


def test_load_errors(tmp_path):
    with pytest.raises(InvalidInputError, match="no such"):
        load(tmp_path / "nope.h5")
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(InvalidInputError, match="not an HDF5"):
        load(tmp_path / "text.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = [1, 2]
    with pytest.raises(InvalidInputError, match="not a clustermass mock"):
        load(tmp_path / "other.h5")


def test_write_roundtrip(small, tmp_path):
    cat = load(small["pure"])
    p = cat.write(tmp_path / "copy.h5")
    back = load(p)
    assert np.array_equal(back.galaxies["v"], cat.galaxies["v"])
    assert np.array_equal(back.clusters["host_id"], cat.clusters["host_id"])
    assert back.meta["kind"] == "pure"
    with pytest.raises(InvalidInputError, match="exists"):
        cat.write(p)


def test_cli_mock(tmp_path, capsys):
    from clustermass.cli import main

    out = tmp_path / "cli.h5"
    rc = main(["mock", "--kind", "pure", "--split", "test", "--n", "6", "--seed", "2",
               "--output", str(out), "--set", "richness_15=220"])
    assert rc == 0
    assert "6 pure test clusters" in capsys.readouterr().out
    cat = load(out)
    assert len(cat) == 6 and cat.meta["universe"]["richness_15"] == 220
    rc = main(["mock", "--kind", "pure", "--split", "test", "--n", "6", "--seed", "2",
               "--output", str(out)])
    assert rc == 2
    assert "exists" in capsys.readouterr().err
    rc = main(["mock", "--kind", "pure", "--split", "test", "--n", "6", "--seed", "2",
               "--output", str(out), "--overwrite", "--set", "bogus=1"])
    assert rc == 2
    assert "unknown mock parameter" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["mock", "--kind", "weird", "--split", "test", "--n", "6", "--seed", "2",
              "--output", str(out)])


def test_comoving_frame_scales_radii(tmp_path):
    kw = dict(kind="pure", split="test", n_clusters=8, seed=4, progress=False)
    phys = load(generate(tmp_path / "p.h5", **kw))
    com = load(generate(tmp_path / "c.h5", frame="comoving", **kw))
    assert com.meta["frame"] == "comoving"
    key_p = {(int(h), int(j)): i for i, (h, j) in
             enumerate(zip(phys.clusters["host_id"], phys.clusters["los_index"], strict=True))}
    n = 0
    for i in range(len(com)):
        key = (int(com.clusters["host_id"][i]), int(com.clusters["los_index"][i]))
        if key not in key_p:
            continue
        j = key_p[key]
        assert np.isclose(com.clusters["r200c"][i] / phys.clusters["r200c"][j], 1.117)
        # the comoving aperture is smaller in physical units: a subset of the galaxies
        assert com.clusters["n_galaxies"][i] <= phys.clusters["n_galaxies"][j]
        vp = np.sort(phys.cluster(j)["v"].value)
        assert np.all(np.isin(com.cluster(i)["v"].value, vp))
        n += 1
    assert n >= 5
