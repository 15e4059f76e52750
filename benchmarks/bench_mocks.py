#!/usr/bin/env python
"""Benchmark of mock generation: clusters per second, wall time and peak memory.

Target (issue "Mock catalogues"): 10,000 contaminated clusters in under a minute
on 2 cores, with memory that stays flat as the number of clusters grows.

    python benchmarks/bench_mocks.py                      # 10,000 contaminated test, jobs=2
    python benchmarks/bench_mocks.py --sizes 2500 10000 20000 --split train

Each size runs in a fresh process, so the peak resident memory (ru_maxrss) of
that run is measured on its own: "main" is the process that writes the file,
"workers" the largest worker process.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def _single(n, kind, split, jobs, seed):
    from clustermass import conf
    from clustermass.mocks import SyntheticUniverse, generate

    t0 = time.perf_counter()
    SyntheticUniverse().tables()  # cosmology tables: computed once per run
    t_tables = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bench.h5")
        with conf.set_temp("show_progress", False):
            t1 = time.perf_counter()
            generate(path, kind=kind, split=split, n_clusters=n, seed=seed, jobs=jobs)
            wall = time.perf_counter() - t1
        size = os.path.getsize(path)
        main_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        import h5py

        with h5py.File(path, "r") as f:
            n_gal = int(f.attrs["n_galaxies"])
    child_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"n": n, "kind": kind, "split": split, "jobs": jobs, "wall_s": wall,
                      "tables_s": t_tables, "clusters_per_s": n / wall, "n_galaxies": n_gal,
                      "file_mb": size / 2**20, "main_peak_rss_mb": main_rss,
                      "worker_peak_rss_mb": child_rss}))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10000])
    p.add_argument("--kind", default="contaminated", choices=["pure", "contaminated"])
    p.add_argument("--split", default="test", choices=["train", "test"])
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--single", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.single is not None:
        _single(args.single, args.kind, args.split, args.jobs, args.seed)
        return 0
    print(f"mock generation benchmark: {args.kind} {args.split}, jobs={args.jobs},"
          f" {os.cpu_count()} CPUs visible")
    print(f"{'N':>7} {'wall [s]':>9} {'clusters/s':>11} {'galaxies':>10} {'file [MB]':>10}"
          f" {'main RSS [MB]':>14} {'worker RSS [MB]':>16}")
    for n in args.sizes:
        cmd = [sys.executable, os.path.abspath(__file__), "--single", str(n), "--kind",
               args.kind, "--split", args.split, "--jobs", str(args.jobs), "--seed",
               str(args.seed)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"{r['n']:>7} {r['wall_s']:>9.1f} {r['clusters_per_s']:>11.0f}"
              f" {r['n_galaxies']:>10} {r['file_mb']:>10.1f} {r['main_peak_rss_mb']:>14.0f}"
              f" {r['worker_peak_rss_mb']:>16.0f}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
