"""Build the offline galaxy snapshots that ship in clustermass/data/snapshots/.

Usage (from the repository root)::

    python data/make_snapshots.py [SOURCE_DIR]

SOURCE_DIR defaults to ``../shared/data`` and holds ``coma/coma_sdss_phase_space.txt``
and ``hecs/a1689_galaxies.dat`` (provenance in data/README.rst).
"""

import sys
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.cosmology import units as cu
from astropy.table import QTable

OUT = Path(__file__).resolve().parents[1] / "clustermass" / "data" / "snapshots"
C_KMS = 299792.458


def coma(src):
    """SDSS DR20 phase space of Coma from the RCausticMass project (no RA/Dec)."""
    raw = np.loadtxt(src / "coma" / "coma_sdss_phase_space.txt", skiprows=1)
    dproj, vlos, zclus = raw[:, 1], raw[:, 2], raw[:, 3]
    assert np.all(zclus == zclus[0])
    t = QTable()
    # The source gives physical Mpc for H0 = 70 km/s/Mpc: R [h^-1 Mpc] = dproj * 0.7.
    t["R"] = dproj * 0.7 * u.Mpc / cu.littleh
    t["v"] = vlos * u.km / u.s
    t["R"].description = "projected radius from the cluster centre"
    t["v"].description = "rest-frame line-of-sight velocity"
    t.meta.update({
        "cluster": "Coma",
        "cluster_redshift": float(zclus[0]),
        "source": "SDSS DR20 galaxies around Coma (Abell 1656), phase space extracted by the"
                  " RCausticMass project (D. F. Morell, 2026, MIT licence, file"
                  " coma_sample.txt of github.com/Dailer/RCausticMass)",
        "citation": "SDSS DR20; Morell (2026) RCausticMass",
        "licence": "MIT (RCausticMass); SDSS data are public",
        "notes": "No RA/Dec: the centre and redshift (z = 0.0235, Sohn et al. 2017) are fixed."
                 " dproj was in physical Mpc for h = 0.7; R = 0.7 dproj in h^-1 Mpc.",
    })
    t.write(OUT / "coma_sdss.ecsv", overwrite=True)
    return t


def a1689(src):
    """HeCS redshifts in the field of Abell 1689 (Rines et al. 2013, table 2)."""
    lines = (src / "hecs" / "a1689_galaxies.dat").read_text().splitlines()
    ra_s, dec_s, cz, ecz, rcc, q, mem = [], [], [], [], [], [], []
    for line in lines:
        if not line.strip():
            continue
        ra_s.append(f"{line[0:2]}h{line[3:5]}m{line[6:12]}s")
        dec_s.append(f"{line[13]}{line[14:16]}d{line[17:19]}m{line[20:26]}s")
        cz.append(float(line[27:33]))
        ecz.append(float(line[34:37]))
        rcc.append(float(line[38:43]))
        q.append(line[44])
        mem.append(int(line[46]))
    coords = SkyCoord(ra_s, dec_s, frame="icrs")
    cz = np.array(cz)
    t = QTable()
    t["ra"] = coords.ra.to(u.deg)
    t["dec"] = coords.dec.to(u.deg)
    t["redshift"] = cz / C_KMS
    t["cz"] = cz * u.km / u.s
    t["cz_err"] = np.array(ecz) * u.km / u.s
    t["xcorr_r"] = np.array(rcc)
    t["quality"] = q
    t["hecs_member"] = np.array(mem)
    t["redshift"].description = "heliocentric redshift cz / c"
    t["quality"].description = "Q secure, ? secure from multiple lines, X medium confidence"
    t["hecs_member"].description = ("HeCS caustic membership (0 = non-member); for checks only,"
                                    " clustermass removes no interlopers")
    t.meta.update({
        "cluster": "A1689",
        "cluster_redshift": 0.1842,
        "source": "Hectospec Cluster Survey redshifts in the field of Abell 1689 (Rines, Geller,"
                  " Diaferio & Kurtz 2013, ApJ 767, 15; VizieR J/ApJ/767/15, table 2)",
        "citation": "Rines et al. 2013, ApJ 767, 15",
        "licence": "AAS/CDS data; cite the paper",
    })
    t.write(OUT / "a1689_hecs.ecsv", overwrite=True)
    return t


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    src = Path(argv[0]) if argv else Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    OUT.mkdir(parents=True, exist_ok=True)
    c = coma(src)
    a = a1689(src)
    print(f"Coma: {len(c)} galaxies; A1689: {len(a)} galaxies ({a['hecs_member'].astype(bool).sum()}"
          " HeCS members)")


if __name__ == "__main__":
    main()
