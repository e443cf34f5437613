"""``[evidence.NAME]`` blocks: a study's own data, declared in the model file.

Three kinds (fitted with PyMC by :mod:`mkba_sim.bayes.evidence`, used through
``dist = "posterior", model = "NAME"``):

``binomial``
    ``events`` of ``trials`` (k of n) with a Beta ``prior`` on the probability (default
    Beta(1, 1)); optionally ``exposure`` (years at risk per person) and ``window`` (the
    years the probability refers to): each person then has probability
    1 − (1 − p)^(exposure / window).
``poisson``
    ``events`` counted over ``exposure`` (e.g. person-years), Gamma ``prior`` on the rate
    per unit of exposure (required).
``comparison``
    The treated group as above (``outcome = "binomial"`` or ``"poisson"``) against an
    external ``reference = { mean, sd }`` (a reported rate with its uncertainty) and a
    ``transfer = { mean, sd }`` bias term on the log-odds (binomial) or log (poisson)
    scale: the reference *for this group* is the reported one shifted by the bias
    (bias-adjusted evidence synthesis, Turner et al. 2009). Required, so that a model
    file states how far the comparison can be trusted.

Numbers only, no code: every value is checked here and an error names the file and key.

References
----------
Turner, R. M., Spiegelhalter, D. J., Smith, G. C. S. & Thompson, S. G. (2009). Bias
    modelling in evidence synthesis. *J. R. Stat. Soc. A* 172(1), 21–47.
    doi:10.1111/j.1467-985X.2008.00547.x
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from mkba_sim.errors import ModelFileError, did_you_mean

__all__ = ["KINDS", "BetaSpec", "Evidence", "GammaSpec", "ShiftSpec", "parse_evidence"]

KINDS = ("binomial", "poisson", "comparison")
_KEYS = {
    "binomial": {"kind", "events", "trials", "exposure", "window", "prior", "source", "note"},
    "poisson": {"kind", "events", "exposure", "prior", "source", "note", "unit"},
    "comparison": {
        "kind",
        "outcome",
        "events",
        "trials",
        "exposure",
        "window",
        "prior",
        "reference",
        "transfer",
        "source",
        "note",
        "unit",
    },
}


@dataclass(frozen=True)
class BetaSpec:
    """Beta(``alpha``, ``beta``)."""

    alpha: float
    beta: float


@dataclass(frozen=True)
class GammaSpec:
    """Gamma(``shape``, ``rate``)."""

    shape: float
    rate: float


@dataclass(frozen=True)
class ShiftSpec:
    """A reported value ``mean`` ± ``sd`` (reference), or a Normal bias term (transfer)."""

    mean: float
    sd: float
    source: str = ""


@dataclass(frozen=True)
class Evidence:
    """One validated ``[evidence.NAME]`` block (see the module docstring)."""

    name: str
    kind: str
    outcome: str
    events: int
    trials: int | None
    exposure: float | None
    window: float | None
    prior: BetaSpec | GammaSpec
    reference: ShiftSpec | None = None
    transfer: ShiftSpec | None = None
    source: str = ""
    note: str = ""
    unit: str = ""

    @property
    def outputs(self) -> tuple[str, ...]:
        """The variables ``dist = "posterior"`` parameters may ask of this block."""
        if self.kind == "binomial":
            return ("p",)
        if self.kind == "poisson":
            return ("rate",)
        q = "p" if self.outcome == "binomial" else "rate"
        ratio = "odds_ratio" if self.outcome == "binomial" else "rate_ratio"
        return (
            f"{q}_treated",
            f"{q}_reference",
            f"{q}_reference_reported",
            "transfer_bias",
            "difference",
            "relative_reduction",
            ratio,
        )

    @property
    def variants(self) -> tuple[str, ...]:
        """Named priors (``prior = "..."``): the block as written; for a comparison also
        without the transfer term and with its sd doubled (the sensitivity table)."""
        if self.kind == "comparison":
            return ("default", "no_transfer", "double_transfer")
        return ("default",)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (hashed into the posterior cache key)."""
        return asdict(self)


def _err(path: str, key: str, problem: str) -> ModelFileError:
    return ModelFileError(path, key, problem)


def _number(
    body: Mapping[str, Any], k: str, path: str, key: str, *, positive: bool, signed: bool = False
) -> float:
    v = body[k]
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise _err(path, f"{key}.{k}", f"must be a finite number, got {v!r}")
    if positive and v <= 0:
        raise _err(path, f"{key}.{k}", f"must be > 0, got {v!r}")
    if not signed and v < 0:
        raise _err(path, f"{key}.{k}", f"must be >= 0, got {v!r}")
    return float(v)


def _count(body: Mapping[str, Any], k: str, path: str, key: str) -> int:
    v = body[k]
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise _err(path, f"{key}.{k}", f"must be a whole number >= 0, got {v!r}")
    return int(v)


def _table(body: Mapping[str, Any], k: str, path: str, key: str) -> Mapping[str, Any]:
    v = body[k]
    if not isinstance(v, Mapping):
        raise _err(
            path, f"{key}.{k}", f"must be a table, e.g. {{ mean = 0.5, sd = 0.05 }}, got {v!r}"
        )
    return v


def _prior(
    body: Mapping[str, Any], family: str, path: str, key: str, required: bool
) -> BetaSpec | GammaSpec:
    k = f"{key}.prior"
    if "prior" not in body:
        if required:
            raise _err(
                path,
                k,
                'is required for a rate: e.g. prior = { dist = "gamma", mean = 0.5, sd = 0.5 } '
                "(per unit of exposure)",
            )
        return BetaSpec(1.0, 1.0)
    spec = _table(body, "prior", path, key)
    dist = spec.get("dist", family)
    if dist != family:
        raise _err(path, f"{k}.dist", f"must be {family!r} here, got {dist!r}")
    names = ("alpha", "beta") if family == "beta" else ("shape", "rate")
    keys = set(spec) - {"dist", "source"}
    if keys == set(names):
        a, b = (_number(spec, n, path, k, positive=True) for n in names)
    elif keys == {"mean", "sd"}:
        m = _number(spec, "mean", path, k, positive=True)
        s = _number(spec, "sd", path, k, positive=True)
        if family == "beta":
            if not m < 1.0 or s * s >= m * (1.0 - m):
                raise _err(path, k, f"no Beta distribution has mean {m} and sd {s}")
            c = m * (1.0 - m) / (s * s) - 1.0
            a, b = m * c, (1.0 - m) * c
        else:
            a, b = (m / s) ** 2, m / (s * s)
    else:
        raise _err(
            path,
            k,
            f"give either {' and '.join(names)} or mean and sd (dist = {family!r}); got keys "
            f"{sorted(keys)}",
        )
    return BetaSpec(a, b) if family == "beta" else GammaSpec(a, b)


def _shift(body: Mapping[str, Any], k: str, path: str, key: str, *, transfer: bool) -> ShiftSpec:
    spec = _table(body, k, path, key)
    where = f"{key}.{k}"
    extra = set(spec) - {"mean", "sd", "source"}
    if extra:
        raise _err(path, f"{where}.{sorted(extra)[0]}", "unknown key (use mean, sd, source)")
    if "sd" not in spec or ("mean" not in spec and not transfer):
        raise _err(path, where, "needs sd" if transfer else "needs mean and sd")
    mean = (
        _number(spec, "mean", path, where, positive=False, signed=True) if "mean" in spec else 0.0
    )
    sd = _number(spec, "sd", path, where, positive=not transfer)
    source = spec.get("source", "")
    if not isinstance(source, str):
        raise _err(path, f"{where}.source", "must be a string")
    return ShiftSpec(mean, sd, source)


def parse_evidence(name: str, body: Any, path: str) -> Evidence:
    """Validate one ``[evidence.NAME]`` table.

    Raises
    ------
    ModelFileError
        Naming the file and the key (``evidence.NAME.events`` ...) and what is wrong.
    """
    key = f"evidence.{name}"
    if not isinstance(body, Mapping):
        raise _err(path, key, "must be a table")
    kind = body.get("kind")
    if kind not in KINDS:
        raise _err(path, f"{key}.kind", f"must be one of {list(KINDS)}, got {kind!r}")
    unknown = sorted(set(body) - _KEYS[kind])
    if unknown:
        hint = did_you_mean(unknown[0], sorted(_KEYS[kind]))
        raise _err(path, f"{key}.{unknown[0]}", f"unknown key for kind {kind!r}{hint}")
    outcome = body.get("outcome", "binomial") if kind == "comparison" else kind
    if outcome not in ("binomial", "poisson"):
        raise _err(path, f"{key}.outcome", f"must be 'binomial' or 'poisson', got {outcome!r}")
    for k in ("events", *(("trials",) if outcome == "binomial" else ("exposure",))):
        if k not in body:
            raise _err(path, f"{key}.{k}", "is required")
    events = _count(body, "events", path, key)
    trials = exposure = window = None
    if outcome == "binomial":
        trials = _count(body, "trials", path, key)
        if trials == 0 or events > trials:
            raise _err(
                path, f"{key}.events", f"need 0 <= events <= trials > 0, got {events} of {trials}"
            )
        if ("exposure" in body) != ("window" in body):
            raise _err(
                path,
                key,
                "exposure (years at risk per person) and window (the years the probability "
                "refers to) go together",
            )
        if "exposure" in body:
            exposure = _number(body, "exposure", path, key, positive=True)
            window = _number(body, "window", path, key, positive=True)
    else:
        exposure = _number(body, "exposure", path, key, positive=True)
    prior = _prior(
        body, "beta" if outcome == "binomial" else "gamma", path, key, outcome == "poisson"
    )
    reference = transfer = None
    if kind == "comparison":
        for k in ("reference", "transfer"):
            if k not in body:
                example = (
                    'reference = { mean = 0.50, sd = 0.05, source = "..." }'
                    if k == "reference"
                    else 'transfer = { sd = 0.5, source = "..." } (bias on the log-odds '
                    "scale; docs/bayes.md)"
                )
                raise _err(path, f"{key}.{k}", f"is required, e.g. {example}")
        reference = _shift(body, "reference", path, key, transfer=False)
        if outcome == "binomial" and not (
            reference.mean < 1.0 and reference.sd**2 < reference.mean * (1.0 - reference.mean)
        ):
            raise _err(
                path,
                f"{key}.reference",
                f"no probability distribution has mean {reference.mean} and sd {reference.sd}",
            )
        if reference.mean <= 0:
            raise _err(path, f"{key}.reference.mean", "must be > 0")
        transfer = _shift(body, "transfer", path, key, transfer=True)
    texts = {}
    for k in ("source", "note", "unit"):
        v = body.get(k, "")
        if not isinstance(v, str):
            raise _err(path, f"{key}.{k}", f"must be a string, got {v!r}")
        texts[k] = v
    return Evidence(
        name=name,
        kind=kind,
        outcome=outcome,
        events=events,
        trials=trials,
        exposure=exposure,
        window=window,
        prior=prior,
        reference=reference,
        transfer=transfer,
        **texts,
    )
