"""Case data of a Bayesian sub-model: the nazorg-plus case file, parsed from bytes and checked.

The file (``models/data/nazorg_plus_cases.csv``, documented in ``nazorg_plus_cases.md``)
has one row per interviewed case and ``# @key: value`` header lines for the aggregate
facts that per-case rows cannot carry (5 reoffenders with 7 offences in total; the
intensity split). Only the columns the model uses are parsed into arrays; the others
(work, police incidents) are documentation for the rest of the model file.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field

import numpy as np

from mkba_sim.errors import BayesError

__all__ = ["CaseData", "parse_cases"]

_REQUIRED_META = (
    "cohort_size",
    "window_years",
    "total_reoffenders",
    "total_offences",
    "intensive_cases",
    "intensive_reoffenders",
    "little_connection_cases",
    "little_connection_reoffenders",
)
_REQUIRED_COLUMNS = ("case", "reoffended", "exposure_low", "exposure_high")


@dataclass(frozen=True)
class CaseData:
    """What the recidivism model needs from the case file.

    Attributes
    ----------
    cases
        Case numbers (1..n).
    reoffended
        1 (reoffended), 0 (did not) or −1 (not known per case).
    exposure_low, exposure_high
        Bounds of each case's time at risk in years; the model draws it uniformly in
        between (equal bounds: known exactly).
    cohort_size
        Size of the cohort the sample was drawn from (69).
    window_years
        Length of the window the reference figures refer to (2 years).
    total_reoffenders, total_offences
        Aggregate counts over all cases (5 and 7).
    intensive_cases, intensive_reoffenders, little_cases, little_reoffenders
        The intensity split of §5.1 (7 with 1 reoffender; 5 with 4).
    sha256
        Hash of the file's bytes (part of the posterior cache key).
    path
        Where it was read from.
    """

    cases: np.ndarray
    reoffended: np.ndarray
    exposure_low: np.ndarray
    exposure_high: np.ndarray
    cohort_size: int
    window_years: float
    total_reoffenders: int
    total_offences: int
    intensive_cases: int
    intensive_reoffenders: int
    little_cases: int
    little_reoffenders: int
    sha256: str
    path: str = field(default="<string>")

    @property
    def n(self) -> int:
        """Number of cases."""
        return int(self.cases.size)

    @property
    def missing(self) -> np.ndarray:
        """Indices (0-based) of cases whose reoffending is not known per case."""
        return np.flatnonzero(self.reoffended < 0)

    @property
    def known(self) -> np.ndarray:
        """Indices (0-based) of cases whose reoffending is known."""
        return np.flatnonzero(self.reoffended >= 0)

    @property
    def missing_reoffenders(self) -> int:
        """Reoffenders among the cases not known per case (total minus known ones)."""
        return self.total_reoffenders - int(np.sum(self.reoffended == 1))

    @property
    def extra_offences(self) -> int:
        """Offences beyond each reoffender's first (total offences − reoffenders)."""
        return self.total_offences - self.total_reoffenders


def _number(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BayesError(f"{where}: {what} must be a number, got {text!r}") from None
    if not np.isfinite(value):
        raise BayesError(f"{where}: {what} must be finite, got {text!r}")
    return value


def _integer(text: str, what: str, where: str) -> int:
    value = _number(text, what, where)
    if value != int(value) or value < 0:
        raise BayesError(f"{where}: {what} must be a whole number >= 0, got {text!r}")
    return int(value)


def parse_cases(raw: bytes, path: str = "<string>") -> CaseData:
    """Parse the bytes of a case file; see the module docstring for the format.

    Raises
    ------
    BayesError
        Naming the file, the row or key and what is wrong (missing column, a value out
        of range, aggregates that contradict the rows...).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BayesError(f"{path}: not UTF-8 text ({exc})") from None
    meta: dict[str, str] = {}
    body: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# @"):
            key, sep, value = stripped[3:].partition(":")
            if not sep:
                raise BayesError(f"{path}: header line {stripped!r} must read '# @key: value'")
            meta[key.strip()] = value.strip()
        elif stripped.startswith("#") or not stripped:
            continue
        else:
            body.append(line)
    missing_meta = [k for k in _REQUIRED_META if k not in meta]
    if missing_meta:
        raise BayesError(f"{path}: header lines '# @key: value' missing for {missing_meta}")
    reader = csv.DictReader(io.StringIO("\n".join(body)))
    columns = reader.fieldnames or []
    absent = [c for c in _REQUIRED_COLUMNS if c not in columns]
    if absent:
        raise BayesError(f"{path}: columns {absent} missing (has {list(columns)})")
    cases: list[int] = []
    reoff: list[int] = []
    lo: list[float] = []
    hi: list[float] = []
    for i, row in enumerate(reader, start=1):
        where = f"{path}: data row {i}"
        case = _integer(row["case"] or "", "case", where)
        r = (row["reoffended"] or "").strip()
        if r not in ("0", "1", ""):
            raise BayesError(f"{where} (case {case}): reoffended must be 0, 1 or empty, got {r!r}")
        a = _number(row["exposure_low"] or "", "exposure_low", where)
        b = _number(row["exposure_high"] or "", "exposure_high", where)
        if not 0.0 <= a <= b:
            raise BayesError(
                f"{where} (case {case}): need 0 <= exposure_low <= exposure_high, got {a}, {b}"
            )
        cases.append(case)
        reoff.append(int(r) if r else -1)
        lo.append(a)
        hi.append(b)
    if not cases:
        raise BayesError(f"{path}: no case rows")
    if len(set(cases)) != len(cases):
        raise BayesError(f"{path}: case numbers repeat: {cases}")
    where = f"{path}: header"
    data = CaseData(
        cases=np.asarray(cases, dtype=np.int64),
        reoffended=np.asarray(reoff, dtype=np.int64),
        exposure_low=np.asarray(lo, dtype=np.float64),
        exposure_high=np.asarray(hi, dtype=np.float64),
        cohort_size=_integer(meta["cohort_size"], "@cohort_size", where),
        window_years=_number(meta["window_years"], "@window_years", where),
        total_reoffenders=_integer(meta["total_reoffenders"], "@total_reoffenders", where),
        total_offences=_integer(meta["total_offences"], "@total_offences", where),
        intensive_cases=_integer(meta["intensive_cases"], "@intensive_cases", where),
        intensive_reoffenders=_integer(
            meta["intensive_reoffenders"], "@intensive_reoffenders", where
        ),
        little_cases=_integer(meta["little_connection_cases"], "@little_connection_cases", where),
        little_reoffenders=_integer(
            meta["little_connection_reoffenders"], "@little_connection_reoffenders", where
        ),
        sha256=hashlib.sha256(raw).hexdigest(),
        path=path,
    )
    _check_consistency(data)
    return data


def _check_consistency(d: CaseData) -> None:
    p = d.path
    if d.window_years <= 0:
        raise BayesError(f"{p}: @window_years must be > 0, got {d.window_years}")
    if d.cohort_size < d.n:
        raise BayesError(f"{p}: @cohort_size {d.cohort_size} is below the {d.n} case rows")
    known_yes = int(np.sum(d.reoffended == 1))
    n_missing = d.missing.size
    if not known_yes <= d.total_reoffenders <= known_yes + n_missing:
        raise BayesError(
            f"{p}: @total_reoffenders = {d.total_reoffenders} cannot hold: {known_yes} rows "
            f"say 1 and {n_missing} are empty"
        )
    if d.total_offences < d.total_reoffenders:
        raise BayesError(
            f"{p}: @total_offences = {d.total_offences} is below @total_reoffenders = "
            f"{d.total_reoffenders} (every reoffender commits at least one)"
        )
    if d.intensive_cases + d.little_cases != d.n:
        raise BayesError(
            f"{p}: @intensive_cases + @little_connection_cases must equal the {d.n} rows, got "
            f"{d.intensive_cases} + {d.little_cases}"
        )
    if d.intensive_reoffenders > d.intensive_cases or d.little_reoffenders > d.little_cases:
        raise BayesError(f"{p}: more reoffenders than cases in an intensity group")
    if d.intensive_reoffenders + d.little_reoffenders != d.total_reoffenders:
        raise BayesError(
            f"{p}: the intensity groups' reoffenders ({d.intensive_reoffenders} + "
            f"{d.little_reoffenders}) must add up to @total_reoffenders = {d.total_reoffenders}"
        )
    for i in np.flatnonzero(d.reoffended == 1):
        if d.exposure_high[i] <= 0.0:
            raise BayesError(
                f"{p}: case {d.cases[i]} reoffended but has no time at risk (exposure_high = 0)"
            )
