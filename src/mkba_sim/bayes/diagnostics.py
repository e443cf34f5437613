"""The convergence gate every fit passes through: R-hat, bulk/tail ESS, divergences.

Thresholds follow Vehtari et al. (2021): rank-normalised split R-hat below 1.01 and bulk
and tail effective sample sizes of at least 100 per chain (400 for four chains); and no
divergent transitions (Betancourt 2017), which signal a posterior the sampler could not
explore. The numbers are computed once, when the posterior is sampled, and stored with
it; the gate is applied whenever a posterior is used, so changing a threshold never
needs a re-fit.

References
----------
Vehtari, A., Gelman, A., Simpson, D., Carpenter, B. & Bürkner, P.-C. (2021). Rank-
    normalization, folding, and localization: an improved R-hat for assessing convergence
    of MCMC. *Bayesian Analysis* 16(2), 667–718. https://doi.org/10.1214/20-BA1221
Betancourt, M. (2017). A conceptual introduction to Hamiltonian Monte Carlo.
    arXiv:1701.02434.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from mkba_sim.errors import DiagnosticsError

__all__ = ["Diagnostics", "Thresholds", "compute_diagnostics", "enforce"]


@dataclass(frozen=True)
class Thresholds:
    """Limits of the gate."""

    rhat_max: float = 1.01
    ess_bulk_min: float = 400.0
    ess_tail_min: float = 400.0
    divergences_max: int = 0


@dataclass(frozen=True)
class Diagnostics:
    """Convergence numbers of one posterior (worst case over the checked variables)."""

    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    divergences: int
    n_draws: int
    chains: int
    worst: dict[str, str] = field(default_factory=dict)
    per_variable: dict[str, dict[str, float]] = field(default_factory=dict)

    def failures(self, limits: Thresholds | None = None) -> list[str]:
        """The violated limits, as readable strings (empty if the fit passes)."""
        t = limits or Thresholds()
        bad: list[str] = []
        if not self.max_rhat <= t.rhat_max:
            bad.append(f"R-hat {self.max_rhat:.4f} > {t.rhat_max} ({self.worst.get('rhat')})")
        if not self.min_ess_bulk >= t.ess_bulk_min:
            bad.append(
                f"bulk ESS {self.min_ess_bulk:.0f} < {t.ess_bulk_min:.0f} "
                f"({self.worst.get('ess_bulk')})"
            )
        if not self.min_ess_tail >= t.ess_tail_min:
            bad.append(
                f"tail ESS {self.min_ess_tail:.0f} < {t.ess_tail_min:.0f} "
                f"({self.worst.get('ess_tail')})"
            )
        if self.divergences > t.divergences_max:
            bad.append(f"{self.divergences} divergent transitions > {t.divergences_max}")
        return bad

    def passed(self, limits: Thresholds | None = None) -> bool:
        """True if no limit is violated."""
        return not self.failures(limits)

    def as_dict(self, limits: Thresholds | None = None) -> dict[str, Any]:
        """JSON-able form with the verdict and the thresholds used."""
        t = limits or Thresholds()
        doc = asdict(self)
        doc["passed"] = self.passed(t)
        doc["failures"] = self.failures(t)
        doc["thresholds"] = asdict(t)
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Diagnostics:
        """Inverse of :meth:`as_dict` (extra keys ignored)."""
        return cls(
            max_rhat=float(doc["max_rhat"]),
            min_ess_bulk=float(doc["min_ess_bulk"]),
            min_ess_tail=float(doc["min_ess_tail"]),
            divergences=int(doc["divergences"]),
            n_draws=int(doc["n_draws"]),
            chains=int(doc["chains"]),
            worst=dict(doc.get("worst", {})),
            per_variable={k: dict(v) for k, v in doc.get("per_variable", {}).items()},
        )


def compute_diagnostics(draws: dict[str, np.ndarray], divergences: int) -> Diagnostics:
    """R-hat and ESS (ArviZ, imported here) of arrays shaped ``(chain, draw[, ...])``.

    Variables that are constant across all draws (a fixed reference weight, say) have no
    defined R-hat and are skipped. A vector variable is checked element by element.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # ArviZ's import-time refactor notice
        import arviz as az

    per: dict[str, dict[str, float]] = {}
    chains = n_draws = 0
    for name, arr in draws.items():
        a = np.asarray(arr, dtype=np.float64)
        chains, n_draws = a.shape[0], a.shape[1]
        flat = a.reshape(chains, n_draws, -1)
        for k in range(flat.shape[2]):
            x = flat[:, :, k]
            if np.ptp(x) == 0.0:
                continue
            label = name if flat.shape[2] == 1 else f"{name}[{k}]"
            per[label] = {
                "rhat": float(az.rhat(x)),
                "ess_bulk": float(az.ess(x, method="bulk")),
                "ess_tail": float(az.ess(x, method="tail")),
            }

    def worst(key: str, pick: Any) -> tuple[float, str]:
        vals = {n: v[key] for n, v in per.items()}
        if not vals:
            return (math.nan, "")
        nan = [n for n, v in vals.items() if not math.isfinite(v)]
        if nan:
            return (math.nan, nan[0])
        name = pick(vals, key=vals.__getitem__)
        return vals[name], name

    rhat, rn = worst("rhat", max)
    eb, ebn = worst("ess_bulk", min)
    et, etn = worst("ess_tail", min)
    return Diagnostics(
        max_rhat=rhat,
        min_ess_bulk=eb,
        min_ess_tail=et,
        divergences=int(divergences),
        n_draws=int(n_draws),
        chains=int(chains),
        worst={"rhat": rn, "ess_bulk": ebn, "ess_tail": etn},
        per_variable=per,
    )


def enforce(
    diag: Diagnostics, what: str, *, strict: bool, limits: Thresholds | None = None
) -> None:
    """Raise (strict) or warn (otherwise) if ``diag`` fails the gate.

    Raises
    ------
    DiagnosticsError
        In strict mode, with every violated limit and the fix in the message.
    """
    bad = diag.failures(limits)
    if not bad:
        return
    msg = (
        f"{what}: posterior failed the convergence diagnostics: {'; '.join(bad)} "
        f"({diag.chains} chains x {diag.n_draws} draws)"
    )
    if strict:
        raise DiagnosticsError(
            msg + ". Increase draws/tune, or pass strict=False (CLI: --no-strict) to use it "
            "anyway with a warning."
        )
    warnings.warn(msg + "; used anyway (strict=False).", RuntimeWarning, stacklevel=3)
