"""Build clustermass/data/reference_clusters.ecsv: the clusters of KR+2020 Table 1.

Usage: ``python data/make_reference_clusters.py``. Every value carries its source
(see data/README.rst); entries marked unverified could not be checked offline.
"""

from pathlib import Path

from astropy import units as u
from astropy.table import QTable

OUT = Path(__file__).resolve().parents[1] / "clustermass" / "data" / "reference_clusters.ecsv"

KR20 = "Kodi Ramanah et al. 2020, MNRAS 499, 1985, Table 1"
CHANCES = "Sifon et al. 2024 (arXiv:2411.13655), CHANCES catalogues"
# name, aliases, ra, dec, position source, position verified, z, z source, z verified,
# flow mass (KR+2020) and error, literature mass, +err, -err, literature reference
ROWS = [
    ("Coma", "A1656;Abell 1656;ACO 1656", 194.93502, 27.91246, "SIMBAD 'ACO 1656'", True,
     0.0231, "Ho et al. 2022 mock configuration (halo_cnn 'coma')", True,
     14.95, 0.10, 14.91, 0.11, 0.11, "Lokas & Mamon 2003"),
    ("A1689", "Abell 1689;ACO 1689", 197.8750, -1.3353, "HeCS X-ray centre (Rines et al. 2013)",
     True, 0.1842, "HeCS (Rines et al. 2013)", True,
     14.91, 0.08, 15.05, 0.12, 0.12, "Lemze et al. 2009"),
    ("A85", "Abell 85;ACO 85", 10.4579, -9.3020, f"MENeaCS via {CHANCES}", True,
     0.0560, CHANCES, True, 14.98, 0.13, 14.88, 0.07, 0.07, "Wojtak & Lokas 2007"),
    ("A119", "Abell 119;ACO 119", 14.0671, -1.2550, f"MENeaCS via {CHANCES}", True,
     0.0440, CHANCES, True, 14.56, 0.09, 14.61, 0.11, 0.11, "Abdullah et al. 2020"),
    ("A576", "Abell 576;ACO 576", 110.4, 55.76, "literature, approximate", False,
     0.0385, "literature, approximate", False,
     14.76, 0.09, 14.69, 0.08, 0.08, "Wojtak & Lokas 2007"),
    ("A1651", "Abell 1651;ACO 1651", 194.8671, -4.2010, f"MENeaCS via {CHANCES}", True,
     0.0845, CHANCES, True, 14.93, 0.09, 14.81, 0.11, 0.11, "Abdullah et al. 2020"),
    ("A2142", "Abell 2142;ACO 2142", 239.58, 27.23, "literature, approximate", False,
     0.0909, "literature, approximate", False,
     14.85, 0.14, 14.95, 0.04, 0.14, "Munari et al. 2014"),
    ("A2670", "Abell 2670;ACO 2670", 358.56911, -10.44525, f"PSZ2 G081.31-68.56 via {CHANCES}",
     True, 0.076, CHANCES, True, 14.61, 0.06, 14.72, 0.10, 0.10, "Wojtak & Lokas 2007"),
]


def main():
    cols = list(zip(*ROWS))
    t = QTable()
    t["name"] = cols[0]
    t["aliases"] = cols[1]
    t["ra"] = cols[2] * u.deg
    t["dec"] = cols[3] * u.deg
    t["position_source"] = cols[4]
    t["position_verified"] = cols[5]
    t["redshift"] = cols[6]
    t["redshift_source"] = cols[7]
    t["redshift_verified"] = cols[8]
    t["log_m200c_flow_paper"] = cols[9]
    t["log_m200c_flow_paper_err"] = cols[10]
    t["log_m200c_lit"] = cols[11]
    t["log_m200c_lit_err_plus"] = cols[12]
    t["log_m200c_lit_err_minus"] = cols[13]
    t["log_m200c_lit_err"] = [max(a, b) for a, b in zip(cols[12], cols[13])]
    t["lit_reference"] = cols[14]
    desc = {
        "aliases": "other names, separated by ';'",
        "ra": "centre right ascension (J2000)",
        "dec": "centre declination (J2000)",
        "redshift": "cluster redshift",
        "log_m200c_flow_paper": f"log10[M200c / (h^-1 Msun)], flow, {KR20}",
        "log_m200c_lit": f"log10[M200c / (h^-1 Msun)], literature, as quoted in {KR20}",
        "log_m200c_lit_err": "larger of the two literature errors (dex)",
    }
    for k, v in desc.items():
        t[k].description = v
    t.meta["description"] = ("The eight clusters of Kodi Ramanah et al. (2020) Table 1 with the"
                             " sources of their centres and redshifts; 'verified' is False where"
                             " the value is approximate and should be checked against NED.")
    t.meta["reference"] = KR20
    t.write(OUT, overwrite=True)
    print(f"wrote {OUT} ({len(t)} clusters)")


if __name__ == "__main__":
    main()
