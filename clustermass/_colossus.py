"""The bridge from astropy cosmologies to colossus (mass function, concentration, bias).

Private module with public names, used by the synthetic universe (host masses
and concentrations) and by `clustermass.priors` (the mass-function prior), so
that both weigh by exactly the same mass function.
"""

import contextlib

__all__ = ["colossus_cosmology", "using_colossus_cosmology"]


def colossus_cosmology(astro, *, sigma8, ns):
    """The colossus cosmology that matches an astropy one and a power spectrum.

    Parameters
    ----------
    astro : `~astropy.cosmology.FLRW`
        Background cosmology (H0, matter, dark energy, baryons, CMB, Neff).
    sigma8, ns : float
        Power-spectrum normalisation and slope, which astropy cosmologies lack
        (Planck13: 0.8288 and 0.9611, Planck Collaboration 2014, A&A 571, A16).

    Returns
    -------
    cosmology : `colossus.cosmology.cosmology.Cosmology`
        Not made current; massive-neutrino warnings are off.
    """
    from colossus.cosmology import cosmology as ccosmo

    return ccosmo.Cosmology(
        name=f"clustermass-{getattr(astro, 'name', 'custom')}",
        flat=bool(abs(astro.Ok0) < 1e-8),
        Om0=float(astro.Om0), Ode0=float(astro.Ode0), Ob0=float(astro.Ob0 or 0.048),
        H0=float(astro.H0.value), sigma8=float(sigma8), ns=float(ns),
        Tcmb0=float(astro.Tcmb0.value) or 2.7255, Neff=float(astro.Neff),
        persistence="", print_warnings=False,
    )


@contextlib.contextmanager
def using_colossus_cosmology(cc):
    """Make colossus cosmology ``cc`` current inside the block, then restore the previous one."""
    from colossus.cosmology import cosmology as ccosmo

    previous = getattr(ccosmo, "current_cosmo", None)
    ccosmo.setCurrent(cc)
    try:
        yield cc
    finally:
        if previous is not None:
            ccosmo.setCurrent(previous)
