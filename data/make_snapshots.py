"""Build the offline galaxy snapshots shipped in ``clustermass/data/snapshots/``.

Usage, from the repository root::

    python data/make_snapshots.py [SOURCE_DIR]

``SOURCE_DIR`` (default ``../shared/data`` relative to the repository root)
must hold ``coma/coma_sdss_phase_space.txt`` and ``hecs/a1689_galaxies.dat``;
where these come from is in ``data/README.rst``. The outputs are
deterministic (no dates), so running the script again gives identical files;
each records the SHA-256 of its source file in its metadata.

Outputs:

* ``coma_sdss.ecsv``: projected phase space of Coma (SDSS DR20 via the
  RCausticMass project): ``R`` [h^-1 Mpc] and ``v`` [km/s], 1743 rows.
* ``a1689_hecs.ecsv``: Hectospec Cluster Survey redshifts in the field of
  Abell 1689 (Rines et al. 2013): ``ra``, ``dec`` [deg], ``redshift``, ``cz``,
  ``cz_err`` [km/s], ``xcorr_r``, ``quality``, ``hecs_member``, 499 rows.
"""

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.cosmology import units as cu
from astropy.table import QTable

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "data"
OUT = REPO / "clustermass" / "data" / "snapshots"
C_KMS = 299792.458  # km/s, exact (SI definition)
R_UNIT = u.Mpc / cu.littleh
V_UNIT = u.km / u.s


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write(table, path):
    """Write ECSV atomically (temporary file, then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    table.write(tmp, format="ascii.ecsv", overwrite=True)
    tmp.replace(path)


def coma(src):
    """Coma: SDSS DR20 projected phase space extracted by RCausticMass (no RA/Dec).

    The source columns are ``CID dproj vlos zclus``: a cluster id, the
    projected distance in physical Mpc computed with H0 = 70 km/s/Mpc, the
    rest-frame line-of-sight velocity in km/s and the cluster redshift. Since
    D_A h does not depend on h, R [h^-1 Mpc] = 0.7 dproj exactly.
    """
    path = src / "coma" / "coma_sdss_phase_space.txt"
    header = path.read_text().splitlines()[0].split()
    if header != ["CID", "dproj", "vlos", "zclus"]:
        raise SystemExit(f"{path}: unexpected header {header}")
    raw = np.loadtxt(path, skiprows=1, ndmin=2)
    dproj, vlos, zclus = raw[:, 1], raw[:, 2], raw[:, 3]
    if not np.all(zclus == zclus[0]):
        raise SystemExit(f"{path}: more than one cluster redshift")
    t = QTable()
    t["R"] = dproj * 0.7 * R_UNIT
    t["v"] = vlos * V_UNIT
    t["R"].info.description = ("projected radius from the cluster centre (0.7 x the source's"
                               " physical Mpc for H0 = 70 km/s/Mpc)")
    t["v"].info.description = "rest-frame line-of-sight velocity relative to the cluster"
    t.meta.update({
        "cluster": "Coma",
        "cluster_redshift": float(zclus[0]),
        "source": "SDSS DR20 galaxies around Coma (Abell 1656), projected phase space extracted"
                  " by the RCausticMass project (file coma_sample.txt of"
                  " github.com/Dailer/RCausticMass)",
        "citation": "SDSS DR20 (Sloan Digital Sky Survey); Dailer F. Morell (2026), RCausticMass",
        "licence": "MIT licence, (c) 2026 Dailer F. Morell (RCausticMass); SDSS data are public",
        "notes": "No RA/Dec: the centre and the cluster redshift (z = 0.0235, Sohn et al. 2017,"
                 " as used by RCausticMass) cannot be changed. R = 0.7 * dproj converts the"
                 " source's physical Mpc (H0 = 70 km/s/Mpc) to h^-1 Mpc.",
        "source_file": "coma/coma_sdss_phase_space.txt",
        "source_sha256": _sha256(path),
        "generated_by": "data/make_snapshots.py",
    })
    _write(t, OUT / "coma_sdss.ecsv")
    return t


def _parse_hecs_line(line):
    """One fixed-width line of the HeCS redshift table (bytes as in data/README.rst)."""
    ra_h, ra_m, ra_s = int(line[0:2]), int(line[3:5]), float(line[6:12])
    sign = -1.0 if line[13] == "-" else 1.0
    de_d, de_m, de_s = int(line[14:16]), int(line[17:19]), float(line[20:26])
    return (
        15.0 * (ra_h + ra_m / 60.0 + ra_s / 3600.0),
        sign * (de_d + de_m / 60.0 + de_s / 3600.0),
        float(line[27:33]),  # cz, km/s
        float(line[34:37]),  # cz error, km/s
        float(line[38:43]),  # cross-correlation score R
        line[44],  # quality flag
        int(line[46]),  # membership flag
    )


def a1689(src):
    """Abell 1689: HeCS redshifts of the galaxies in its field (Rines et al. 2013)."""
    path = src / "hecs" / "a1689_galaxies.dat"
    rows = [_parse_hecs_line(line) for line in path.read_text().splitlines() if line.strip()]
    ra, dec, cz, ecz, rcc, q, mem = (list(c) for c in zip(*rows, strict=True))
    cz = np.array(cz)
    t = QTable()
    # 1e-9 deg is far below the source precision (0.001 s in RA, 0.001" in Dec).
    t["ra"] = np.round(ra, 9) * u.deg
    t["dec"] = np.round(dec, 9) * u.deg
    t["redshift"] = cz / C_KMS
    t["cz"] = cz * V_UNIT
    t["cz_err"] = np.array(ecz) * V_UNIT
    t["xcorr_r"] = np.array(rcc)
    t["quality"] = np.array(q, dtype=str)
    t["hecs_member"] = np.array(mem, dtype=np.int64)
    descriptions = {
        "ra": "right ascension (J2000)",
        "dec": "declination (J2000)",
        "redshift": "heliocentric redshift cz / c",
        "cz": "heliocentric velocity cz",
        "cz_err": "uncertainty of cz",
        "xcorr_r": "cross-correlation score R of the Hectospec redshift",
        "quality": "redshift quality: Q secure, ? secure from multiple lines, X medium confidence",
        "hecs_member": "number of HeCS clusters of which the galaxy is a caustic member (0: none);"
                       " for checks only, clustermass removes no interlopers",
    }
    for name, text in descriptions.items():
        t[name].info.description = text
    t.meta.update({
        "cluster": "A1689",
        "cluster_redshift": 0.1842,
        "source": "Hectospec Cluster Survey (HeCS) redshifts in the field of Abell 1689 (Rines,"
                  " Geller, Diaferio & Kurtz 2013, ApJ 767, 15; VizieR J/ApJ/767/15, table 2)",
        "citation": "Rines, Geller, Diaferio & Kurtz 2013, ApJ 767, 15 (HeCS)",
        "licence": "AAS journal data distributed by CDS/VizieR; cite Rines et al. 2013",
        "notes": "All 499 galaxies of the HeCS redshift table in the field of A1689 (RA"
                 " 13h09m41s-13h13m31s, Dec -00d51m to -01d48m), members and non-members. The"
                 " cluster redshift 0.1842 and centre (197.8750, -1.3353) are HeCS's (table 1).",
        "source_file": "hecs/a1689_galaxies.dat",
        "source_sha256": _sha256(path),
        "generated_by": "data/make_snapshots.py",
    })
    _write(t, OUT / "a1689_hecs.ecsv")
    return t


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source_dir", nargs="?", type=Path, default=DEFAULT_SOURCE,
                        help=f"directory of the source data (default {DEFAULT_SOURCE})")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    src = args.source_dir.resolve()
    if not src.is_dir():
        raise SystemExit(f"no such source directory: {src}")
    OUT.mkdir(parents=True, exist_ok=True)
    c = coma(src)
    inside = (c["R"] < 1.6 * R_UNIT) & (np.abs(c["v"]) < 2200 * V_UNIT)
    print(f"coma_sdss.ecsv: {len(c)} galaxies, {inside.sum()} with R < 1.6 h^-1 Mpc and"
          " |v| < 2200 km/s")
    a = a1689(src)
    print(f"a1689_hecs.ecsv: {len(a)} galaxies, {(a['hecs_member'] > 0).sum()} HeCS members")


if __name__ == "__main__":
    main()
