"""Mock cluster catalogues: a synthetic universe and the Ho et al. (2019) observer.

The flows of clustermass learn p(log M | phase space) from mock clusters.
Kodi Ramanah et al. (2020, MNRAS 499, 1985) cut theirs out of the MDPL2
simulation with the procedure of Ho et al. (2019, ApJ 887, 25). This
subpackage provides

* `SyntheticUniverse`: host haloes, member galaxies, substructure, infall
  zone, neighbouring groups and field galaxies, built from published
  simulation results (every free number is a documented parameter), with
  per-cluster nuisance parameters drawn from documented priors
  (`NUISANCE_PARAMETERS`, `NUISANCE_PRESETS`, ``SyntheticUniverse.robust()``);
* `generate`: mock catalogues (``pure`` or ``contaminated``, ``train`` flat in
  log M or ``test`` following the mass function), written to HDF5 in seeded
  chunks, reproducible for any number of worker processes;
* `load` and `MockCatalogue`: the catalogues read back, with phase-space
  histograms on any `~clustermass.phasespace.PhaseSpaceGrid`;
* `observe`: the same cylinder cut applied to a real simulation box (hosts and
  galaxies with positions, velocities, masses; periodic);
* `run_validation`: the comparison with published simulation results
  (``clustermass mock-validate``).

Modules, each importing only those above it: `~clustermass.mocks.geometry`
(directions, relativistic line-of-sight velocities) and
`~clustermass.mocks.profiles` (NFW, Jeans, infall, MBM10);
`~clustermass.mocks.tables` (tables computed once per universe, and per
cluster for its nuisance parameters), `~clustermass.mocks.universe`
(parameters and nuisance priors) and
`~clustermass.mocks.hosts` (hosts and their lines of sight);
`~clustermass.mocks.catalogue` (files); `~clustermass.mocks.observer`
(simulation boxes); `~clustermass.mocks.fits`, `~clustermass.mocks.plots`
and `~clustermass.mocks.report` (validation).

See ``docs/user_guide/mocks.rst`` for the physics, its sources and the
validation figures.
"""

from .catalogue import MockCatalogue, generate, load
from .observer import observe
from .profiles import mbm10_interloper_density
from .report import run_validation
from .universe import NUISANCE_PARAMETERS, NUISANCE_PRESETS, SyntheticUniverse

__all__ = [
    "SyntheticUniverse",
    "NUISANCE_PARAMETERS",
    "NUISANCE_PRESETS",
    "MockCatalogue",
    "generate",
    "load",
    "observe",
    "mbm10_interloper_density",
    "run_validation",
]
