"""Benchmark of inference: first call, warm calls, batches and memory of `ClusterMass.infer`.

Usage::

    python benchmarks/bench_infer.py                 # everything, ~2 minutes on 2 cores
    python benchmarks/bench_infer.py --loop 2000     # shorter memory loop
    python benchmarks/bench_infer.py --json out.json # also write the numbers

What it measures (targets of issue #11), with the shipped ``contaminated``
flow and the offline galaxies of Coma (``ClusterMass.from_ned("Coma",
offline=True)``):

(a) first call of a session: a fresh Python process runs ``import
    clustermass``, ``ClusterMass.from_ned("Coma", offline=True)`` and
    ``.infer()``; wall-clock and CPU time, split into the import, the cluster,
    the model (`~clustermass.flow.MassFlow.pretrained`, which imports
    TensorFlow) and the first inference (tracing). Target: < 3 s.
(b) warm single calls: median and 90th percentile of ``cm.infer()`` over
    ``--calls`` calls (default 200) after one warm-up call. Target: median
    < 30 ms.
(c) one batch: `~clustermass.flow.MassFlow.pdf_grid` and
    `~clustermass.flow.MassFlow.posteriors` of 10,000 histograms (Coma's,
    randomly thinned) on the default 701-point log-mass grid.
(d) memory: resident set size (``VmRSS`` of ``/proc/self/status``) before and
    after ``--loop`` single-cluster calls (default 10,000), cycling over 50
    clusters with different numbers of galaxies (random subsets of Coma).
    Target: growth < 100 MB.

The script exits with status 1 if a target is missed. Times depend on the
machine and its load; compare runs on the same machine. TensorFlow's threading
is left at its defaults.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np

FIRST_CALL_TARGET_S = 3.0
WARM_TARGET_S = 0.030
RSS_TARGET_MB = 100.0
N_BATCH = 10_000

_FIRST_CALL = textwrap.dedent("""
    import json, resource, time, warnings
    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    warnings.simplefilter("ignore")
    t = [time.perf_counter()]; c = [cpu()]
    def mark():
        t.append(time.perf_counter()); c.append(cpu())
    from clustermass import ClusterMass
    from clustermass.flow import MassFlow
    mark()
    cm = ClusterMass.from_ned("Coma", offline=True)
    mark()
    MassFlow.pretrained("contaminated")
    mark()
    post = cm.infer()
    mark()
    names = ["import", "cluster", "model", "infer"]
    print(json.dumps({"wall": t[-1] - t[0], "cpu": c[-1] - c[0], "mean": post.mean,
                      "wall_parts": {k: t[i + 1] - t[i] for i, k in enumerate(names)},
                      "cpu_parts": {k: c[i + 1] - c[i] for i, k in enumerate(names)}}))
""")


def rss_mb():
    """Resident set size of this process in MB (``/proc``; peak RSS where there is none)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def first_call(repeats):
    """(a): run the first call in fresh processes; the fastest of ``repeats`` runs."""
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", _FIRST_CALL], capture_output=True,
                             text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return min(runs, key=lambda r: r["wall"])


def coma_subsets(cm, n, seed):
    """``n`` clusters made of random subsets (40-100 %) of Coma's galaxies."""
    from clustermass import ClusterMass

    rng = np.random.default_rng(seed)
    R, v = cm.galaxies["R"], cm.galaxies["v"]
    out = []
    for _ in range(n):
        keep = rng.uniform(size=len(R)) < rng.uniform(0.4, 1.0)
        out.append(ClusterMass.from_phase_space(R[keep], v[keep], redshift=cm.redshift,
                                                name="Coma subset"))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="warm calls timed in (b)")
    parser.add_argument("--loop", type=int, default=10_000, help="calls of the memory loop (d)")
    parser.add_argument("--first-repeats", type=int, default=1,
                        help="fresh processes for (a); the fastest counts")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    from clustermass import ClusterMass
    from clustermass.exceptions import ClusterMassWarning
    from clustermass.flow import MassFlow

    # The subsets of Coma lie where they lie; clustermass' own warnings are not timed.
    warnings.simplefilter("ignore", ClusterMassWarning)
    results, failed = {}, []

    def report(label, value, target=None, unit="s"):
        ok = "" if target is None else ("  ok" if value < target else "  MISSED")
        goal = "" if target is None else f"  (target < {target:g} {unit})"
        print(f"{label:58s} {value:10.4f} {unit}{goal}{ok}", flush=True)
        if target is not None and not value < target:
            failed.append(label)

    print(f"clustermass inference benchmark, python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs\n")

    # (a) first call, in a fresh process
    first = first_call(args.first_repeats)
    results["first_call"] = first
    report("(a) first call of a session (fresh process), wall", first["wall"],
           FIRST_CALL_TARGET_S)
    print("    wall: " + ", ".join(f"{k} {v:.2f} s" for k, v in first["wall_parts"].items()))
    print(f"    cpu:  {first['cpu']:.2f} s: "
          + ", ".join(f"{k} {v:.2f} s" for k, v in first["cpu_parts"].items()))

    # (b) warm single calls
    cm = ClusterMass.from_ned("Coma", offline=True)
    cm.infer()
    times = []
    for _ in range(args.calls):
        t0 = time.perf_counter()
        cm.infer()
        times.append(time.perf_counter() - t0)
    med, p90 = float(np.median(times)), float(np.percentile(times, 90))
    results["warm"] = {"calls": args.calls, "median_s": med, "p90_s": p90}
    report(f"(b) warm ClusterMass.infer(), median of {args.calls}", med, WARM_TARGET_S)
    report("    90th percentile", p90)

    # (c) one batch of 10,000 histograms
    flow = MassFlow.pretrained("contaminated")
    rng = np.random.default_rng(1)
    h = cm.histogram(flow.grid)
    batch = rng.binomial(np.broadcast_to(h.astype(np.int64), (N_BATCH, *h.shape)),
                         rng.uniform(0.4, 1.0, (N_BATCH, 1, 1))).astype(np.float32)
    flow.pdf_grid(batch[:2])
    t0 = time.perf_counter()
    flow.pdf_grid(batch)
    t_pdf = time.perf_counter() - t0
    t0 = time.perf_counter()
    flow.posteriors(batch)
    t_posts = time.perf_counter() - t0
    results["batch"] = {"n": N_BATCH, "pdf_grid_s": t_pdf, "posteriors_s": t_posts}
    report(f"(c) MassFlow.pdf_grid of {N_BATCH:,} histograms", t_pdf)
    report(f"    MassFlow.posteriors of {N_BATCH:,} histograms", t_posts)

    # (d) memory over a loop of single-cluster calls
    clusters = coma_subsets(cm, 50, seed=2)
    for c in clusters:  # warm-up: one call per cluster
        c.infer()
    start = rss_mb()
    t0 = time.perf_counter()
    for i in range(args.loop):
        clusters[i % len(clusters)].infer()
    elapsed = time.perf_counter() - t0
    end = rss_mb()
    results["memory"] = {"calls": args.loop, "rss_start_mb": start, "rss_end_mb": end,
                         "growth_mb": end - start, "seconds": elapsed}
    print(f"(d) RSS before / after {args.loop:,} calls: {start:.1f} / {end:.1f} MB "
          f"({elapsed:.1f} s)")
    report(f"    RSS growth over {args.loop:,} single-cluster calls", end - start,
           RSS_TARGET_MB, unit="MB")

    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    if failed:
        print("\nmissed: " + "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
