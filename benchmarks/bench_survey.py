"""Benchmark of catalogue mode, `clustermass.weigh_catalogue`.

Usage::

    python benchmarks/bench_survey.py          # 10,000 clusters, 10^7 galaxies
    python benchmarks/bench_survey.py --clusters 1000 --galaxies 1000000   # 1/10 size

Target (issue #11): 10,000 clusters against 10^7 galaxies in under 10 minutes
on 2 CPU cores (pin them from outside: ``taskset -c 0,1 python ...``).

The synthetic sky (seeded): ``--clusters`` clusters at uniform positions on
the sphere with redshifts uniform in [0.02, 0.3]; each has 30-300 member
galaxies (log-uniform) with projected radii from a cored profile out to
2 h^-1 Mpc and Gaussian line-of-sight velocities (sigma 400-1000 km/s); the
rest of the ``--galaxies`` are a uniform field on the sphere with redshifts
uniform in [0.01, 0.35]. This is a test of speed and memory, not of masses.

Prints the time to build the sky, to load the model, to weigh the catalogue,
and the peak resident memory of the process (``resource.getrusage``).
"""

import argparse
import resource
import sys
import time

import numpy as np
from astropy import units as u
from astropy.cosmology import Planck13
from astropy.table import QTable

import clustermass
from clustermass.models import load_model

C_KMS = 299792.458


def synthetic_sky(n_clusters, n_galaxies, *, seed=0):
    """(clusters, galaxies) tables of a seeded synthetic sky (see the module docstring)."""
    rng = np.random.default_rng(seed)

    def sphere(n):
        return rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))

    ra_c, dec_c = sphere(n_clusters)
    z_c = rng.uniform(0.02, 0.3, n_clusters)
    n_mem = np.exp(rng.uniform(np.log(30), np.log(300), n_clusters)).astype(int)
    n_mem = np.minimum(n_mem, max(n_galaxies // max(n_clusters, 1) // 2, 1))
    owner = np.repeat(np.arange(n_clusters), n_mem)
    m = owner.size
    # projected radius R (h^-1 Mpc) -> angle at the cluster's distance
    d_a = Planck13.angular_diameter_distance(z_c).to_value(u.Mpc) * Planck13.h
    # cored projected profile, Sigma ~ 1 / (1 + (R / 0.25)^2) out to 2 h^-1 Mpc (inverse CDF)
    r = 0.25 * np.sqrt(np.expm1(rng.uniform(0, 1, m) * np.log1p((2.0 / 0.25) ** 2)))
    theta = r / d_a[owner]
    phi = rng.uniform(0, 2 * np.pi, m)
    dec0 = np.radians(dec_c[owner])
    # offsets on the sphere from each centre (exact great-circle displacement)
    dec = np.arcsin(np.sin(dec0) * np.cos(theta) + np.cos(dec0) * np.sin(theta) * np.cos(phi))
    dra = np.arctan2(np.sin(phi) * np.sin(theta) * np.cos(dec0),
                     np.cos(theta) - np.sin(dec0) * np.sin(dec))
    ra = (ra_c[owner] + np.degrees(dra)) % 360
    sigma = rng.uniform(400, 1000, n_clusters)[owner]
    v = rng.normal(0, sigma)
    z = z_c[owner] + v / C_KMS * (1 + z_c[owner])
    n_field = max(n_galaxies - m, 0)
    ra_f, dec_f = sphere(n_field)
    z_f = rng.uniform(0.01, 0.35, n_field)
    galaxies = QTable({"ra": np.concatenate([ra, ra_f]) * u.deg,
                       "dec": np.concatenate([np.degrees(dec), dec_f]) * u.deg,
                       "redshift": np.concatenate([z, z_f])})
    clusters = QTable({"name": [f"C{i:06d}" for i in range(n_clusters)],
                       "ra": ra_c * u.deg, "dec": dec_c * u.deg, "redshift": z_c})
    return clusters, galaxies


def peak_rss_mib():
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 if sys.platform != "darwin" else rss / 2**20


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clusters", type=int, default=10_000)
    p.add_argument("--galaxies", type=int, default=10_000_000)
    p.add_argument("--model", default="contaminated")
    p.add_argument("--prior", default="flat")
    p.add_argument("--chunk", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    clusters, galaxies = synthetic_sky(args.clusters, args.galaxies, seed=args.seed)
    t1 = time.perf_counter()
    print(f"sky: {len(clusters)} clusters, {len(galaxies)} galaxies in {t1 - t0:.1f} s;"
          f" peak RSS {peak_rss_mib():.0f} MiB")
    model = load_model(args.model)
    t2 = time.perf_counter()
    print(f"model {args.model!r} loaded in {t2 - t1:.1f} s")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", clustermass.ClusterMassWarning)
        result = clustermass.weigh_catalogue(clusters, galaxies, model=model, prior=args.prior,
                                             chunk=args.chunk,
                                             progress=not args.no_progress)
    t3 = time.perf_counter()
    m = result.meta
    print(f"weigh_catalogue: {t3 - t2:.1f} s ({(t3 - t2) / len(clusters) * 1e3:.2f} ms per"
          f" cluster); {m['n_weighed']} weighed, {m['n_flag_few_galaxies']} with too few"
          f" galaxies, {m['n_flag_outside_training_range']} outside the training range,"
          f" median {np.median(result['n_galaxies']):.0f} galaxies in the window")
    print(f"total {t3 - t0:.1f} s; peak RSS {peak_rss_mib():.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
