"""Decision quantities computed from models and results.

Layer rule: imports ``model``, ``results``, NumPy, SciPy and (lazily) SALib and
scikit-learn; no file I/O, no plotting, no printing, no global RNG state.

The estimators (``voi``, ``sensitivity``, ``breakeven``) are small cited functions over
arrays of draws; they never load a model or call the engine.
"""

from mkba_sim.analysis.breakeven import (
    Acceptability,
    BreakEven,
    acceptability,
    acceptability_curve,
    break_even,
)
from mkba_sim.analysis.sensitivity import (
    DeltaResult,
    GroupSobolResult,
    borgonovo_delta,
    group_sobol,
    variance_shares,
)
from mkba_sim.analysis.voi import (
    ConditionalMean,
    EnbsResult,
    EvpiResult,
    EvppiResult,
    EvsiResult,
    conditional_mean,
    enbs,
    evpi,
    evppi,
    evsi,
    population_evpi,
)

__all__ = [  # noqa: RUF022 - grouped by topic, as xarray does
    # value of information
    "evpi",
    "evppi",
    "evsi",
    "enbs",
    "conditional_mean",
    "population_evpi",
    # global sensitivity
    "variance_shares",
    "borgonovo_delta",
    "group_sobol",
    # break-even and acceptability
    "break_even",
    "acceptability",
    "acceptability_curve",
    # result types
    "Acceptability",
    "BreakEven",
    "ConditionalMean",
    "DeltaResult",
    "EvpiResult",
    "EvppiResult",
    "EvsiResult",
    "EnbsResult",
    "GroupSobolResult",
]
