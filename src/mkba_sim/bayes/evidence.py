"""Declarative sub-models: the ``[evidence.NAME]`` blocks of a model file, fitted with PyMC.

The block (validated by :mod:`mkba_sim.model.evidence`) is the data; this module turns it
into a :class:`~mkba_sim.bayes.protocol.SubModel`, so it is fitted, gated, cached and used
through ``dist = "posterior"`` exactly like a registered Python sub-model.

* ``binomial``: p ~ Beta(α, β); k ~ Binomial(n, q) with q = p, or, with an exposure of
  *t* years per person against a window of *T* years, q = 1 − (1 − p)^(t/T) (a constant
  hazard over the window). Without exposure the posterior is Beta(α + k, β + n − k)
  (conjugate; checked in the tests).
* ``poisson``: λ ~ Gamma(a, b); k ~ Poisson(λ E); posterior Gamma(a + k, b + E).
* ``comparison``: the treated group as above; the reported reference rate r ~ Beta (or
  Gamma) with the given mean and sd; a transfer bias δ ~ Normal(μ, σ) moves it to this
  group: logit p_reference = logit r + δ (binomial) or log λ_reference = log r + δ
  (poisson). This is the additive bias term of bias-adjusted evidence synthesis (Turner
  et al. 2009): σ says how far the external reference is trusted to describe the treated
  clients' counterfactual. The reference and the bias have no data, so their posterior
  is their prior — the comparison is only as good as that prior, and it is **not** a
  causal estimate (stated with every output).

References
----------
Turner, R. M., Spiegelhalter, D. J., Smith, G. C. S. & Thompson, S. G. (2009). Bias
    modelling in evidence synthesis. *J. R. Stat. Soc. A* 172(1), 21–47.
    doi:10.1111/j.1467-985X.2008.00547.x
Gelman, A. et al. (2013). *Bayesian Data Analysis*, 3rd ed., §2.4 and §2.6 (conjugate
    binomial and Poisson models).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mkba_sim.bayes.protocol import VariableInfo
from mkba_sim.errors import BayesError
from mkba_sim.model.evidence import BetaSpec, Evidence, GammaSpec

__all__ = ["COMPARISON_CAVEAT", "EvidenceSubModel", "EvidenceVariant", "build_evidence_model"]

COMPARISON_CAVEAT = (
    "a comparison with an external reference figure, not a causal estimate: the transfer "
    "term says how far the reference is trusted to describe this group"
)


@dataclass(frozen=True)
class EvidenceVariant:
    """A named prior of an evidence block: the transfer sd multiplied by ``transfer_scale``."""

    name: str
    description: str
    transfer_scale: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (hashed into the cache key)."""
        return asdict(self)


_VARIANTS = {
    "default": EvidenceVariant("default", "the block as written", 1.0),
    "no_transfer": EvidenceVariant(
        "no_transfer", "no transfer term: the reference taken as describing this group", 0.0
    ),
    "double_transfer": EvidenceVariant(
        "double_transfer", "the transfer term's sd doubled (less trust in the reference)", 2.0
    ),
}


def _beta_moments(mean: float, sd: float) -> tuple[float, float]:
    c = mean * (1.0 - mean) / (sd * sd) - 1.0
    return mean * c, (1.0 - mean) * c


def _gamma_moments(mean: float, sd: float) -> tuple[float, float]:
    return (mean / sd) ** 2, mean / (sd * sd)


def build_evidence_model(
    ev: Evidence, variant: EvidenceVariant, *, mutable_data: bool = False
) -> Any:
    """The PyMC model of an evidence block (imports PyMC).

    ``mutable_data`` holds ``events`` in a ``pm.Data`` container so that simulation-based
    calibration can swap data sets without recompiling (``pm.set_data({"events": k})``).
    """
    import pymc as pm
    import pytensor.tensor as pt

    comparison = ev.kind == "comparison"
    with pm.Model() as model:
        k: Any = pm.Data("events", ev.events) if mutable_data else ev.events
        if ev.outcome == "binomial":
            name = "p_treated" if comparison else "p"
            assert isinstance(ev.prior, BetaSpec) and ev.trials is not None  # by validation
            p = pm.Beta(name, ev.prior.alpha, ev.prior.beta)
            q = p
            if ev.exposure is not None and ev.window is not None:
                q = -pt.expm1(pt.log1p(-p) * (ev.exposure / ev.window))
            pm.Binomial("events_obs", n=ev.trials, p=q, observed=k)
        else:
            name = "rate_treated" if comparison else "rate"
            assert isinstance(ev.prior, GammaSpec) and ev.exposure is not None
            lam = pm.Gamma(name, alpha=ev.prior.shape, beta=ev.prior.rate)
            pm.Poisson("events_obs", mu=lam * ev.exposure, observed=k)
        if comparison:
            assert ev.reference is not None and ev.transfer is not None
            r, t = ev.reference, ev.transfer
            if ev.outcome == "binomial":
                pm.Beta("p_reference_reported", *_beta_moments(r.mean, r.sd))
            else:
                a, b = _gamma_moments(r.mean, r.sd)
                pm.Gamma("rate_reference_reported", alpha=a, beta=b)
            sd = t.sd * variant.transfer_scale
            if sd > 0:
                pm.Normal("transfer_bias", mu=t.mean, sigma=sd)
    return model


class EvidenceSubModel:
    """An ``[evidence.NAME]`` block as a :class:`~mkba_sim.bayes.protocol.SubModel`."""

    data_file: str | None = None
    default_prior = "default"
    code_modules: tuple[str, ...] = (
        "mkba_sim.bayes.evidence",
        "mkba_sim.model.evidence",
        "mkba_sim.bayes.sampling",
    )

    def __init__(self, evidence: Evidence) -> None:
        self.evidence = evidence
        self.name = evidence.name
        ev = evidence
        what = (
            f"{ev.events} of {ev.trials}"
            if ev.outcome == "binomial"
            else f"{ev.events} events over an exposure of {ev.exposure:g}"
        )
        self.description = f"[evidence.{ev.name}] {ev.kind}: {what}" + (
            f" against a reference of {ev.reference.mean:g} ± {ev.reference.sd:g}"
            if ev.reference is not None
            else ""
        )
        self.caveat = COMPARISON_CAVEAT if ev.kind == "comparison" else ""
        self.priors: Mapping[str, Any] = {n: _VARIANTS[n] for n in ev.variants}
        self.sensitivity: tuple[str, ...] = ev.variants
        q_unit = "1" if ev.outcome == "binomial" else (ev.unit or "events/exposure")
        info = {
            "p": VariableInfo("1", "probability (posterior)"),
            "rate": VariableInfo(q_unit, "rate per unit of exposure (posterior)"),
            "p_treated": VariableInfo("1", "probability in the treated group"),
            "rate_treated": VariableInfo(q_unit, "rate in the treated group"),
            "p_reference": VariableInfo(
                "1", "reference probability transferred to this group (reported + bias)"
            ),
            "rate_reference": VariableInfo(
                q_unit, "reference rate transferred to this group (reported x exp(bias))"
            ),
            "p_reference_reported": VariableInfo("1", "the reported reference probability"),
            "rate_reference_reported": VariableInfo(q_unit, "the reported reference rate"),
            "transfer_bias": VariableInfo(
                "1", "transfer bias (log-odds or log scale; Turner et al. 2009)"
            ),
            "difference": VariableInfo(q_unit, "reference minus treated"),
            "relative_reduction": VariableInfo("1", "1 - treated / reference"),
            "odds_ratio": VariableInfo("1", "odds treated / odds reference"),
            "rate_ratio": VariableInfo("1", "rate treated / rate reference"),
        }
        self.variables: Mapping[str, VariableInfo] = {v: info[v] for v in ev.outputs}
        self.summary_variables = ev.outputs
        self.sensitivity_variables = ev.outputs[:1] + (
            ("difference", "relative_reduction") if ev.kind == "comparison" else ()
        )

    def parse(self, raw: bytes | None, path: str) -> Evidence:
        """The block itself (its numbers are in the model file)."""
        return self.evidence

    def data_fingerprint(self, data: Evidence) -> str:
        """SHA-256 of the block's canonical JSON."""
        return hashlib.sha256(json.dumps(data.as_dict(), sort_keys=True).encode()).hexdigest()

    def build(self, data: Evidence, prior: EvidenceVariant) -> Any:
        """:func:`build_evidence_model`."""
        return build_evidence_model(data, prior)

    def derive(
        self,
        draws: dict[str, np.ndarray],
        data: Evidence,
        prior: EvidenceVariant,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        """The block's outputs from the draws."""
        if data.kind != "comparison":
            v = data.outputs[0]
            return {v: np.asarray(draws[v], dtype=np.float64)}
        assert data.transfer is not None
        q = "p" if data.outcome == "binomial" else "rate"
        treated = np.asarray(draws[f"{q}_treated"], dtype=np.float64)
        reported = np.asarray(draws[f"{q}_reference_reported"], dtype=np.float64)
        bias = np.asarray(draws.get("transfer_bias", np.full_like(reported, data.transfer.mean)))
        bias = np.broadcast_to(bias, reported.shape).astype(np.float64)
        if data.outcome == "binomial":
            logit = np.log(reported) - np.log1p(-reported) + bias
            ref = 1.0 / (1.0 + np.exp(-logit))
            ratio = (treated / (1.0 - treated)) / (ref / (1.0 - ref))
            ratio_name = "odds_ratio"
        else:
            ref = reported * np.exp(bias)
            ratio = treated / ref
            ratio_name = "rate_ratio"
        return {
            f"{q}_treated": treated,
            f"{q}_reference": ref,
            f"{q}_reference_reported": reported,
            "transfer_bias": bias,
            "difference": ref - treated,
            "relative_reduction": 1.0 - treated / ref,
            ratio_name: ratio,
        }

    def observed(self, data: Evidence) -> dict[str, np.ndarray]:
        """``events`` and ``trials`` or ``exposure``."""
        out = {"events": np.asarray(data.events)}
        if data.trials is not None:
            out["trials"] = np.asarray(data.trials)
        if data.exposure is not None:
            out["exposure"] = np.asarray(data.exposure)
        return out

    def probabilities(self, out: Any) -> dict[str, float]:
        """For a comparison: P(treated below the reference)."""
        if self.evidence.kind != "comparison":
            return {}
        d = np.asarray(out["difference"], dtype=np.float64).reshape(-1)
        return {"P(treated below the reference)": float(np.mean(d > 0.0))}

    def prior(self, name: str | None) -> EvidenceVariant:
        """The named variant (``None``: ``"default"``)."""
        key = self.default_prior if name is None else name
        if key not in self.priors:
            raise BayesError(
                f"{self.name}: unknown prior {key!r}; choose one of {sorted(self.priors)}"
            )
        return self.priors[key]
