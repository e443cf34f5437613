"""The base class every distribution family derives from."""

from __future__ import annotations

import functools
import hashlib
import json
import math
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from mkba_sim.kernels import layout as ks

__all__ = [
    "Distribution",
    "Encoded",
    "SpecError",
    "TableStore",
    "encode_with",
    "median_is_finite",
    "number",
    "quantile_table",
    "table_key",
]


class SpecError(ValueError):
    """A distribution spec is invalid; ``key`` names the offending key."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}" if key else problem)


@dataclass(frozen=True)
class Encoded:
    """A distribution as the numba kernel sees it: a code, four floats and a table."""

    code: int
    fpar: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    table: np.ndarray | None = field(default=None, compare=False)


def number(spec: Mapping[str, Any], key: str) -> float:
    """Return ``spec[key]`` as a finite float, or raise a :class:`SpecError` naming ``key``."""
    if key not in spec:
        raise SpecError(key, "is required")
    value = spec[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(key, f"must be a number, got {value!r}")
    try:
        value = float(value)
    except OverflowError:
        raise SpecError(key, "is too large to be a floating-point number") from None
    if not math.isfinite(value):
        raise SpecError(key, f"must be finite, got {value!r}")
    return value


def quantile_table(ppf: Any, isf: Any) -> np.ndarray:
    """Tabulate a quantile function for the kernel's TABLE code.

    ``ppf(u)`` and ``isf(q)`` (the quantile at 1 - q, for accuracy near 1) are the exact
    functions; see :mod:`mkba_sim.kernels.sampling` for the two grids.
    """
    u = ks.TB_EDGE + np.arange(ks.TB_N + 1) * ((1.0 - 2.0 * ks.TB_EDGE) / ks.TB_N)
    # each side is evaluated only on its own half (the other half's points would reach
    # u = 1 in floating point, where a quantile is infinite and conversions warn)
    bulk = np.where(u <= 0.5, ppf(np.minimum(u, 0.5)), isf(np.minimum(1.0 - u, 0.5)))
    t = np.linspace(-ks.QT_LIMIT, ks.QT_LIMIT, ks.QT_SIZE)
    lower = ppf(1.0 / (1.0 + np.exp(-np.minimum(t, 0.0))))
    upper = isf(1.0 / (1.0 + np.exp(np.maximum(t, 0.0))))
    tail = np.where(t <= 0.0, lower, upper)
    out = np.concatenate([bulk, tail]).astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise SpecError("", "the distribution's quantiles are not finite on the sampling grid")
    # enforce monotonicity against last-bit noise of the exact functions
    out[: ks.TB_N + 1] = np.maximum.accumulate(out[: ks.TB_N + 1])
    out[ks.TB_N + 1 :] = np.maximum.accumulate(out[ks.TB_N + 1 :])
    return out


class TableStore(Protocol):
    """Where quantile tables are kept between processes, by :func:`table_key`.

    :class:`mkba_sim.io.tables.TableCache` keeps them on disk; this layer only asks.
    """

    def get(self, key: str) -> np.ndarray | None:
        """The table stored under ``key``, or ``None`` (absent or unreadable)."""

    def put(self, key: str, table: np.ndarray) -> None:
        """Keep ``table`` under ``key`` (failing quietly: a store only saves time)."""


_MEMO_SIZE = 256
_memo: dict[Distribution, np.ndarray] = {}  # tables of this process, oldest first


def _remember(dist: Distribution, table: np.ndarray) -> np.ndarray:
    table.flags.writeable = False
    if len(_memo) >= _MEMO_SIZE:
        _memo.pop(next(iter(_memo)), None)
    _memo[dist] = table
    return table


def _tabulated(dist: Distribution) -> bool:
    """True when ``dist`` is encoded as a quantile table of its ppf/isf (the default
    :meth:`Distribution.encode`) and is hashable (its parameters identify it)."""
    if type(dist).encode is not Distribution.encode:
        return False
    try:
        hash(dist)
    except TypeError:
        return False
    return True


def _table(dist: Distribution, tables: TableStore | None = None) -> np.ndarray:
    """``dist``'s quantile table: remembered, stored in ``tables``, or computed (and then
    put in ``tables``). A stored table holds the very bits a computed one would (its key
    names everything they depend on), so where it comes from never changes a result."""
    table = _memo.get(dist)
    if table is not None:
        return table
    key = table_key(dist) if tables is not None else None
    if key is not None and tables is not None:
        table = tables.get(key)
        if (
            table is not None
            and table.dtype == np.float64
            and table.shape == (ks.table_size(),)
            and np.all(np.isfinite(table))
        ):
            return _remember(dist, table)
        # absent, or not a table of this layout: computed afresh
    table = quantile_table(dist.ppf, dist.isf)
    if key is not None and tables is not None:
        tables.put(key, table)
    return _remember(dist, table)


@functools.cache
def _code_fingerprint() -> str | None:
    """Hash of the sources that compute a table: this package and the table layout
    (``None`` where the sources cannot be read, e.g. an install without them)."""
    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    paths = sorted(here.glob("*.py"))
    if not paths:
        return None
    try:
        for path in [*paths, here.parent / "kernels" / "layout.py"]:
            h.update(path.name.encode())
            h.update(path.read_bytes())
    except OSError:
        return None
    return h.hexdigest()


@functools.cache
def _platform_fingerprint() -> list[str]:
    """What else a table's last bits depend on: the numerical libraries' versions and the
    CPU features numpy dispatches on (a cache folder may be shared between machines)."""
    from importlib import metadata  # here: reading a model does not need it

    try:
        scipy_version = metadata.version("scipy")
    except metadata.PackageNotFoundError:  # pragma: no cover - scipy is a dependency
        scipy_version = "?"
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # pragma: no cover - numpy < 2 or a changed private name
        features = {}
    enabled = ",".join(sorted(k for k, on in features.items() if on))
    return [np.__version__, scipy_version, platform.machine(), enabled]


def table_key(dist: Distribution) -> str | None:
    """The identity of ``dist``'s quantile table, or ``None`` if it is not encoded as one.

    A hash of the family's class, its exact parameters (``repr`` of a frozen dataclass:
    floats written in full precision), the table layout (:mod:`mkba_sim.kernels.layout`),
    the code that computes the table, the numpy and scipy versions and the CPU features
    numpy uses: two distributions with the same key have bit-identical tables. ``None``
    also for a class defined outside this package, or when the package's sources cannot
    be read (such tables are not kept).
    """
    cls = type(dist)
    code = _code_fingerprint()
    if code is None or not _tabulated(dist) or not cls.__module__.startswith(__package__ + "."):
        # no table, or no way to tell the code that computes it (the sources are missing,
        # or the class is defined outside this package): never kept
        return None
    layout = [ks.TB_EDGE, ks.TB_N, ks.QT_LIMIT, ks.QT_SIZE]
    parts = [f"{cls.__module__}.{cls.__qualname__}", repr(dist), repr(layout)]
    parts += [code, *_platform_fingerprint()]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:40]


def encode_with(dist: Distribution, tables: TableStore | None) -> Encoded:
    """``dist.encode()``, with its quantile table taken from ``tables`` if kept there
    (and put there once computed), so that a new process need not import scipy."""
    if tables is None or not _tabulated(dist):
        return dist.encode()
    return Encoded(ks.TABLE, table=_table(dist, tables))


def median_is_finite(dist: Distribution, tables: TableStore | None = None) -> bool:
    """Whether ``dist.ppf(0.5)`` is finite, answered from ``dist``'s table when ``tables``
    is given (read from it, or computed and put there): a table holds ``ppf(0.5)`` (the
    middle of its bulk grid) and exists only when every entry is finite."""
    if tables is not None and _tabulated(dist):
        # the table is read, or computed now (the plan would compute it anyway) and kept,
        # so that the next process need not import scipy for this check either; a table
        # exists only where every entry is finite, ppf(0.5) among them
        try:
            with np.errstate(all="ignore"):
                _table(dist, tables)
        except SpecError:
            pass  # some quantiles are not finite: ask for the median itself
        else:
            return True
    with np.errstate(all="ignore"):
        return bool(np.all(np.isfinite(dist.ppf(np.array([0.5])))))


class Distribution:
    """One distribution family with its declared parametrisations.

    Subclasses set ``family`` (the ``dist`` name in model files) and
    ``parametrisations`` (the accepted key sets), implement :meth:`from_spec`,
    :meth:`scipy` and :meth:`encode`.
    """

    family: ClassVar[str]
    parametrisations: ClassVar[tuple[tuple[str, ...], ...]]
    optional_keys: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def allowed_keys(cls) -> set[str]:
        """Every key a spec of this family may contain."""
        keys = {k for p in cls.parametrisations for k in p}
        return keys | set(cls.optional_keys)

    @classmethod
    def choose_parametrisation(cls, spec: Mapping[str, Any]) -> tuple[str, ...]:
        """Return the one parametrisation whose keys ``spec`` gives, or raise."""
        unknown = set(spec) - cls.allowed_keys()
        if unknown:
            key = sorted(unknown)[0]
            raise SpecError(key, f"unknown key for dist = {cls.family!r}; {cls.describe()}")
        matches = [p for p in cls.parametrisations if set(p) <= set(spec)]
        if len(matches) != 1:
            raise SpecError("", f"give exactly one parametrisation: {cls.describe()}")
        used = set(matches[0]) | set(cls.optional_keys)
        extra = set(spec) - used
        if extra:
            raise SpecError(sorted(extra)[0], f"mixes parametrisations; {cls.describe()}")
        return matches[0]

    @classmethod
    def describe(cls) -> str:
        """Human-readable list of parametrisations, for error messages."""
        return "accepted: " + " | ".join(", ".join(p) for p in cls.parametrisations)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Distribution:
        """Build from a model-file table without ``dist`` and the common keys."""
        raise NotImplementedError

    def scipy(self) -> Any:
        """The equivalent frozen ``scipy.stats`` distribution."""
        raise NotImplementedError

    def encode(self) -> Encoded:
        """The kernel encoding: by default a quantile table of :meth:`ppf`/:meth:`isf`.

        Tables are cached per distribution (families are frozen dataclasses, equal when
        their parameters are), so re-running a model in the same process does not
        rebuild them with scipy; :func:`encode_with` also keeps them between processes.
        """
        if _tabulated(self):
            return Encoded(ks.TABLE, table=_table(self))
        return Encoded(ks.TABLE, table=quantile_table(self.ppf, self.isf))  # unhashable

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Exact quantile function (scipy)."""
        return np.asarray(self.scipy().ppf(u), dtype=np.float64)

    def isf(self, q: np.ndarray) -> np.ndarray:
        """Exact inverse survival function: the quantile at ``1 - q``."""
        return np.asarray(self.scipy().isf(q), dtype=np.float64)

    def support(self) -> tuple[float, float]:
        """The support [lo, hi]; families override it so that no scipy.stats is needed."""
        lo, hi = self.scipy().support()
        return float(lo), float(hi)

    def mean(self) -> float:
        """Mean of the distribution."""
        return float(self.scipy().mean())

    def interval(self, mass: float = 0.9) -> tuple[float, float]:
        """Central interval holding ``mass``."""
        lo, hi = self.scipy().interval(mass)
        return float(lo), float(hi)

    @property
    def is_random(self) -> bool:
        """False for a fixed value; such parameters take no random stream."""
        return True


def check_interval(spec: Mapping[str, Any]) -> tuple[float, float, float]:
    """Read ``interval = [lo, hi]`` and ``mass`` (default 0.95) from a spec."""
    raw = spec["interval"]
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        raise SpecError("interval", f"must be a list [low, high], got {raw!r}")
    lo = number({"interval[0]": raw[0]}, "interval[0]")
    hi = number({"interval[1]": raw[1]}, "interval[1]")
    if not lo < hi:
        raise SpecError("interval", f"bounds are inverted or equal: [{lo}, {hi}]")
    mass = number(spec, "mass") if "mass" in spec else 0.95
    if not 0.0 < mass < 1.0:
        raise SpecError("mass", f"must lie strictly between 0 and 1, got {mass}")
    return lo, hi, mass


def scipy_stats() -> Any:
    """``scipy.stats``, imported on first use (it takes about a second to import)."""
    from scipy import stats

    return stats


def scipy_special() -> Any:
    """``scipy.special``, imported on first use (about 0.4 s): reading a model needs it
    only for intervals and the like, and a simulation only for quantile tables that are
    not cached yet."""
    from scipy import special

    return special


#: ``scipy.special.ndtri(0.5 + mass / 2)`` for the masses intervals usually have, as scipy
#: computes them (``tests/test_distributions.py`` checks them bit for bit): reading a
#: model whose intervals have these masses imports no ``scipy.special``, which takes
#: 0.4–1 s in a fresh process.
_Z_OF_MASS = {
    0.5: 0.6744897501960817,
    0.8: 1.2815515655446004,
    0.9: 1.6448536269514722,
    0.95: 1.959963984540054,
    0.98: 2.3263478740408408,
    0.99: 2.5758293035489004,
    0.999: 3.2905267314919255,
}


def z_of_mass(mass: float) -> float:
    """Standard normal quantile bounding a central interval of ``mass``:
    ``ndtri(0.5 + mass / 2)``."""
    z = _Z_OF_MASS.get(mass)
    return z if z is not None else float(scipy_special().ndtri(0.5 + mass / 2.0))
