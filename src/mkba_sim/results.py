"""The :class:`Result` of a simulation: an xarray Dataset with provenance, built here only.

Layer rule: imports numpy and xarray only; no file I/O — saving and loading is
:mod:`mkba_sim.io.results`. The engine hands plain arrays (:class:`RunSummary`) to
:func:`make_result`, the one function that lays the Dataset out; :func:`make_attrs` is the
one provenance stamp of every producer (engine, Bayesian fits, analysis), in the manner
of arviz-base's ``make_attrs``.

xarray is imported only when a Dataset is first needed: :func:`make_result` lays the
variables out as plain arrays, and :attr:`Result.dataset` turns them into the Dataset on
first access. :meth:`Result.summary`, :meth:`Result.to_dict` and :attr:`Result.attrs` read
the same variables by name and label from the laid-out arrays or from the Dataset, so a
first result in a fresh process does not import xarray, pandas or Dask.

The layout follows xarray/CF habits (``docs/results.md``): typed attributes, ``units``
and ``long_name`` on every variable, a coordinate on every dimension, money and ratios
in separate variables. Dimensions: ``scenario``, ``quantity`` (benefits, costs, net),
``item``, ``stakeholder``, ``year``, ``prob`` (quantile levels), ``bin`` (streaming
histograms of net and of the ratio), ``perspective`` (when the model declares
perspectives) and, when draws are kept, ``draw`` and ``input``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "PROBS",
    "QUANTITIES",
    "RUN_SCHEMA",
    "Layout",
    "Result",
    "RunSummary",
    "make_attrs",
    "make_result",
    "to_dataset",
]

PROBS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975, 0.99)
QUANTITIES = ("benefits", "costs", "net")
RUN_SCHEMA = "mkba_sim.run/2"
_PACKAGES = ("mkba_sim", "numpy", "scipy", "numba", "xarray")


@functools.cache
def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "not installed"


def make_attrs(
    producer: str, attrs: Mapping[str, Any] | None = None, packages: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Provenance attributes for any mkba_sim output, merged with ``attrs``.

    Package versions, Python version, creation time (UTC, ISO 8601), the producing
    module and the CF ``Conventions``. Values keep their types: ``None`` values are
    left out, booleans become 0/1 (NetCDF has no boolean attribute), dicts and lists
    become JSON strings.
    """
    out: dict[str, Any] = {
        "Conventions": "CF-1.10",
        "producer": producer,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "python_version": platform.python_version(),
    }
    for p in (*_PACKAGES, *packages):
        out[f"{p}_version"] = _version(p)
    for k, v in (attrs or {}).items():
        if v is None:
            continue
        if isinstance(v, bool | np.bool_):
            out[k] = int(v)
        elif isinstance(v, dict | list | tuple):
            out[k] = json.dumps(v)
        elif isinstance(v, np.integer):
            out[k] = int(v)
        elif isinstance(v, np.floating):
            out[k] = float(v)
        else:
            out[k] = v
    return out


@dataclass(frozen=True)
class RunSummary:
    """Everything a run computed, as plain arrays; :func:`make_result` lays it out.

    A *series* is one per-draw value of one scenario (an item's present value, a total,
    the ratio, a stakeholder's or a year's balance): ``series_*`` describe them, the
    statistics arrays are indexed by series.
    """

    scenarios: tuple[str, ...]
    descriptions: tuple[str, ...]
    currency: str
    series_scenario: np.ndarray  # int [n_series]
    series_kind: tuple[str, ...]
    series_name: tuple[str, ...]
    mean: np.ndarray
    sd: np.ndarray
    mcse: np.ndarray
    n_valid: np.ndarray
    p_exceed: np.ndarray  # P(series > threshold), NaN where not counted
    p_exceed_mcse: np.ndarray
    defined_fraction: np.ndarray
    quantiles: np.ndarray  # [n_series, len(PROBS)], NaN where not kept
    n_draws: int
    n_kept: np.ndarray  # [S]
    item_side: dict[str, str]
    item_stakeholder: dict[str, str]
    horizon: int
    hist_series: np.ndarray  # int [n_hist]
    hist_counts: np.ndarray  # int [n_hist, n_bins]
    hist_lo: np.ndarray
    hist_width: np.ndarray
    input_labels: tuple[str, ...] = ()
    input_units: tuple[str, ...] = ()
    input_draws: np.ndarray | None = None  # [n, n_inputs]
    series_draws: np.ndarray | None = None  # [n, n_series]
    perspectives: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> members
    per_participant: str | None = None  # the population balances are divided by
    participants: np.ndarray | None = None  # [S] its value in each scenario
    participant_unit: str = ""  # the population's unit (its name when none is declared)


#: A variable or coordinate laid out for :class:`xarray.Dataset`: (dims, data, attrs).
Var = tuple[tuple[str, ...], Any, dict[str, Any]]


@dataclass(frozen=True)
class Layout:
    """A result's Dataset before xarray: what :func:`make_result` lays out.

    ``data`` and ``coords`` map names to ``(dims, data, attrs)`` exactly as passed to
    :class:`xarray.Dataset`; :func:`to_dataset` builds the Dataset from them.
    """

    data: dict[str, Var]
    coords: dict[str, Var]
    attrs: dict[str, Any]


def to_dataset(layout: Layout) -> xr.Dataset:
    """The :class:`xarray.Dataset` of a laid-out result (imports xarray on first use)."""
    import xarray as xr

    return xr.Dataset(layout.data, coords=layout.coords, attrs=dict(layout.attrs))


def _var(dims: tuple[str, ...], data: Any, units: str | None, long_name: str, **extra: Any) -> Var:
    attrs: dict[str, Any] = {"long_name": long_name, **extra}
    if units is not None:
        attrs["units"] = units
    return dims, data, attrs


def make_result(summary: RunSummary, attrs: Mapping[str, Any]) -> Result:
    """Lay out the :class:`Result` Dataset from a run's arrays and its attributes.

    ``attrs`` must already carry provenance (:func:`make_attrs`). The Dataset itself is
    built (by :func:`to_dataset`) when :attr:`Result.dataset` is first read.
    """
    sm = summary
    scen = list(sm.scenarios)
    S = len(scen)
    cur = sm.currency
    items = list(sm.item_side)
    stake = sorted(set(sm.item_stakeholder.values()))
    years = list(range(1, sm.horizon + 1))
    probs = np.array(PROBS)
    where: dict[tuple[int, str, str], int] = {
        (int(s), k, n): i
        for i, (s, k, n) in enumerate(
            zip(sm.series_scenario, sm.series_kind, sm.series_name, strict=True)
        )
    }

    def grid(kind: str, names: list[str], values: np.ndarray) -> np.ndarray:
        if not isinstance(values, np.ndarray):  # lazy (dask) draws: stacked, not loaded
            nan = np.full(values.shape[1:], np.nan)
            rows = [[where.get((s, kind, n)) for n in names] for s in range(S)]
            return np.stack([np.stack([nan if i is None else values[i] for i in r]) for r in rows])
        extra = values.shape[1:]
        out = np.full((S, len(names), *extra), np.nan)
        for s in range(S):
            for j, n in enumerate(names):
                i = where.get((s, kind, n))
                if i is not None:
                    out[s, j] = values[i]
        return out

    def one(kind: str, name: str, values: np.ndarray) -> np.ndarray:
        return grid(kind, [name], values)[:, 0]

    totals = [("total", q) for q in QUANTITIES]

    def tot(values: np.ndarray) -> np.ndarray:
        return np.stack([one(k, n, values) for k, n in totals], axis=1)

    p_net, p_net_se = one("total", "net", sm.p_exceed), one("total", "net", sm.p_exceed_mcse)
    data: dict[str, Any] = {
        "description": _var(("scenario",), list(sm.descriptions), None, "scenario description"),
        "mean": _var(("scenario", "quantity"), tot(sm.mean), cur, "mean present value"),
        "sd": _var(("scenario", "quantity"), tot(sm.sd), cur, "standard deviation"),
        "mcse": _var(
            ("scenario", "quantity"), tot(sm.mcse), cur, "Monte Carlo standard error of the mean"
        ),
        "net_quantile": _var(
            ("scenario", "prob"), one("total", "net", sm.quantiles), cur, "quantile of net balance"
        ),
        "p_net_positive": _var(("scenario",), p_net, "1", "probability that net balance > 0"),
        "p_net_positive_mcse": _var(
            ("scenario",), p_net_se, "1", "Monte Carlo standard error of P(net > 0)"
        ),
        "bcr_mean": _var(
            ("scenario",),
            one("ratio", "bcr", sm.mean),
            "1",
            "mean benefit-cost ratio",
            comment="over the draws where costs > 0",
        ),
        "bcr_sd": _var(("scenario",), one("ratio", "bcr", sm.sd), "1", "sd of benefit-cost ratio"),
        "bcr_mcse": _var(
            ("scenario",),
            one("ratio", "bcr", sm.mcse),
            "1",
            "Monte Carlo standard error of mean BCR",
        ),
        "bcr_quantile": _var(
            ("scenario", "prob"), one("ratio", "bcr", sm.quantiles), "1", "quantile of BCR"
        ),
        "p_bcr_above_1": _var(
            ("scenario",),
            one("ratio", "bcr", sm.p_exceed),
            "1",
            "probability that BCR > 1",
            comment="among draws where the ratio is defined (costs > 0)",
        ),
        "p_bcr_above_1_mcse": _var(
            ("scenario",), one("ratio", "bcr", sm.p_exceed_mcse), "1", "MCSE of P(BCR > 1)"
        ),
        "bcr_defined": _var(
            ("scenario",),
            one("ratio", "bcr", sm.defined_fraction),
            "1",
            "share of kept draws with costs > 0 (ratio defined)",
        ),
        "n_kept": _var(("scenario",), np.asarray(sm.n_kept), "1", "draws summarised"),
        "n_dropped": _var(
            ("scenario",),
            sm.n_draws - np.asarray(sm.n_kept),
            "1",
            "draws dropped for a non-finite value (non_finite = drop)",
        ),
        "item_mean": _var(
            ("scenario", "item"), grid("item", items, sm.mean), cur, "mean present value of item"
        ),
        "item_sd": _var(("scenario", "item"), grid("item", items, sm.sd), cur, "sd of item PV"),
        "item_mcse": _var(
            ("scenario", "item"),
            grid("item", items, sm.mcse),
            cur,
            "Monte Carlo standard error of item PV",
        ),
        "item_side": _var(("item",), [sm.item_side[i] for i in items], None, "ledger side"),
        "item_stakeholder": _var(
            ("item",), [sm.item_stakeholder[i] for i in items], None, "stakeholder bearing the item"
        ),
        "stakeholder_mean": _var(
            ("scenario", "stakeholder"),
            grid("stakeholder", stake, sm.mean),
            cur,
            "mean balance of stakeholder",
        ),
        "stakeholder_sd": _var(
            ("scenario", "stakeholder"),
            grid("stakeholder", stake, sm.sd),
            cur,
            "sd of stakeholder balance",
        ),
        "stakeholder_mcse": _var(
            ("scenario", "stakeholder"),
            grid("stakeholder", stake, sm.mcse),
            cur,
            "Monte Carlo standard error of stakeholder balance",
        ),
        "p_stakeholder_positive": _var(
            ("scenario", "stakeholder"),
            grid("stakeholder", stake, sm.p_exceed),
            "1",
            "probability that stakeholder balance > 0",
        ),
        "p_stakeholder_positive_mcse": _var(
            ("scenario", "stakeholder"),
            grid("stakeholder", stake, sm.p_exceed_mcse),
            "1",
            "MCSE of P(stakeholder balance > 0)",
        ),
        "stakeholder_quantile": _var(
            ("scenario", "stakeholder", "prob"),
            grid("stakeholder", stake, sm.quantiles),
            cur,
            "quantile of stakeholder balance",
        ),
        "net_year_mean": _var(
            ("scenario", "year"),
            grid("year", [str(y) for y in years], sm.mean),
            cur,
            "mean present value of the net balance of year",
        ),
        "net_year_mcse": _var(
            ("scenario", "year"),
            grid("year", [str(y) for y in years], sm.mcse),
            cur,
            "Monte Carlo standard error of the year's net PV",
        ),
    }
    n_bins = sm.hist_counts.shape[1] if sm.hist_counts.size else 0
    for name, kind, units in (("net", "total", cur), ("bcr", "ratio", "1")):
        hc = np.zeros((S, n_bins), dtype=np.int64)
        hl = np.full(S, np.nan)
        hw = np.full(S, np.nan)
        for h, i in enumerate(sm.hist_series):
            if (sm.series_kind[i], sm.series_name[i]) == (kind, name):
                s = int(sm.series_scenario[i])
                hc[s], hl[s], hw[s] = sm.hist_counts[h], sm.hist_lo[h], sm.hist_width[h]
        data[f"{name}_hist_counts"] = _var(
            ("scenario", "bin"),
            hc,
            "1",
            f"streaming histogram of {name}: counts",
            comment=f"bin 0: below {name}_hist_lo; last bin: above the range; bin k: "
            f"[{name}_hist_lo + (k-1) {name}_hist_width, {name}_hist_lo + k {name}_hist_width)",
        )
        data[f"{name}_hist_lo"] = _var(("scenario",), hl, units, f"lower edge of {name} bin 1")
        data[f"{name}_hist_width"] = _var(("scenario",), hw, units, f"width of a {name} bin")
    coords: dict[str, Any] = {
        "scenario": _var(("scenario",), scen, None, "scenario"),
        "quantity": _var(("quantity",), list(QUANTITIES), None, "ledger total"),
        "prob": _var(("prob",), probs, "1", "quantile level"),
        "item": _var(("item",), items, None, "ledger item"),
        "year": _var(("year",), np.array(years, dtype=np.int64), "year", "year of the programme"),
        "stakeholder": _var(("stakeholder",), stake, None, "stakeholder"),
        "bin": _var(("bin",), np.arange(n_bins, dtype=np.int64), "1", "histogram bin index"),
    }
    if sm.series_draws is not None and sm.input_draws is not None:
        n = sm.series_draws.shape[0]
        draws_t = sm.series_draws.T  # [n_series, n]
        coords["draw"] = _var(("draw",), np.arange(n, dtype=np.int64), "1", "draw index")
        coords["input"] = _var(("input",), list(sm.input_labels), None, "model input")
        coords["input_unit"] = _var(("input",), list(sm.input_units), None, "unit of the input")
        data["input_draws"] = _var(
            ("draw", "input"),
            sm.input_draws,
            None,
            "input values",
            comment="each input in its own unit: see the input_unit coordinate",
        )
        data["total_draws"] = _var(
            ("scenario", "quantity", "draw"),
            np.stack([one(k, n_, draws_t) for k, n_ in totals], 1),
            cur,
            "present value per draw (NaN: dropped)",
        )
        data["bcr_draws"] = _var(
            ("scenario", "draw"),
            one("ratio", "bcr", draws_t),
            "1",
            "benefit-cost ratio per draw (NaN: undefined or dropped)",
        )
        data["item_draws"] = _var(
            ("scenario", "item", "draw"),
            grid("item", items, draws_t),
            cur,
            "item present value per draw",
        )
        data["stakeholder_draws"] = _var(
            ("scenario", "stakeholder", "draw"),
            grid("stakeholder", stake, draws_t),
            cur,
            "stakeholder balance per draw",
        )
    _perspective_vars(sm, data, coords, grid, one)
    return Result.from_layout(Layout(data, coords, dict(attrs)))


def _perspective_vars(
    sm: RunSummary, data: dict[str, Any], coords: dict[str, Any], grid: Any, one: Any
) -> None:
    """Variables of the perspectives and of the per-participant balances, if any."""
    cur = sm.currency
    persp = list(sm.perspectives)
    if persp:
        dims = ("scenario", "perspective")
        coords["perspective"] = _var(("perspective",), persp, None, "perspective")
        data["perspective_stakeholders"] = _var(
            ("perspective",),
            ["; ".join(sm.perspectives[p]) for p in persp],
            None,
            "stakeholders of the perspective (joined by '; ')",
        )
        for name, values, units, long in (
            ("perspective_mean", sm.mean, cur, "mean balance of perspective"),
            ("perspective_sd", sm.sd, cur, "sd of perspective balance"),
            ("perspective_mcse", sm.mcse, cur, "Monte Carlo standard error of perspective balance"),
            (
                "p_perspective_positive",
                sm.p_exceed,
                "1",
                "probability that perspective balance > 0",
            ),
            ("p_perspective_positive_mcse", sm.p_exceed_mcse, "1", "MCSE of P(perspective > 0)"),
        ):
            data[name] = _var(dims, grid("perspective", persp, values), units, long)
        data["perspective_quantile"] = _var(
            (*dims, "prob"),
            grid("perspective", persp, sm.quantiles),
            cur,
            "quantile of perspective balance",
        )
    if sm.per_participant is None:
        return
    unit = f"{cur}/{sm.participant_unit or sm.per_participant}"
    note = f"divided by population {sm.per_participant!r}; undefined (NaN) when it is 0"
    tot = list(QUANTITIES)
    for name, values, long in (
        ("per_participant_mean", sm.mean, "mean present value per participant"),
        ("per_participant_sd", sm.sd, "sd of present value per participant"),
        ("per_participant_mcse", sm.mcse, "Monte Carlo standard error per participant"),
    ):
        data[name] = _var(
            ("scenario", "quantity"),
            grid("participant", tot, values),
            unit,
            long,
            comment=note,
            population=sm.per_participant,
        )
    if sm.participants is not None:
        data["participants"] = _var(
            ("scenario",),
            np.asarray(sm.participants, dtype=np.float64),
            sm.per_participant,
            "number of participants (the population balances are divided by)",
            population=sm.per_participant,
        )
    data["per_participant_net_quantile"] = _var(
        ("scenario", "prob"),
        one("participant", "net", sm.quantiles),
        unit,
        "quantile of net balance per participant",
        comment=note,
    )
    data["p_per_participant_net_positive"] = _var(
        ("scenario",),
        one("participant", "net", sm.p_exceed),
        "1",
        "probability that net balance per participant > 0",
    )
    data["per_participant_defined"] = _var(
        ("scenario",),
        one("participant", "net", sm.defined_fraction),
        "1",
        "share of kept draws with a positive number of participants",
    )
    if persp:
        dims = ("scenario", "perspective")
        data["per_participant_perspective_mean"] = _var(
            dims,
            grid("participant_perspective", persp, sm.mean),
            unit,
            "mean perspective balance per participant",
        )
        data["per_participant_perspective_mcse"] = _var(
            dims,
            grid("participant_perspective", persp, sm.mcse),
            unit,
            "Monte Carlo standard error of perspective balance per participant",
        )
        data["per_participant_perspective_quantile"] = _var(
            (*dims, "prob"),
            grid("participant_perspective", persp, sm.quantiles),
            unit,
            "quantile of perspective balance per participant",
        )
        data["p_per_participant_perspective_positive"] = _var(
            dims,
            grid("participant_perspective", persp, sm.p_exceed),
            "1",
            "probability that perspective balance per participant > 0",
        )


class _DatasetView:
    """Variables of a Dataset by name and label (one scenario selected, if given)."""

    def __init__(self, ds: xr.Dataset, scenario: str | None) -> None:
        self.ds = ds if scenario is None else ds.sel(scenario=scenario)

    def get(self, var: str, **sel: Any) -> np.ndarray:
        da = self.ds[var]
        return np.asarray((da.sel(**sel) if sel else da).values)

    def labels(self, dim: str) -> np.ndarray:
        return np.asarray(self.ds[dim].values)

    def has(self, name: str) -> bool:
        return name in self.ds

    def has_coord(self, name: str) -> bool:
        return name in self.ds.coords

    def var_attrs(self, var: str) -> Mapping[str, Any]:
        return self.ds[var].attrs


class _LayoutView:
    """The same reads as :class:`_DatasetView`, from a :class:`Layout`'s plain arrays.

    Labels select positions along the coordinate of each dimension, by equality, as
    ``Dataset.sel`` does on these coordinates (scenario, quantity, prob, item, …); a
    variable without a ``scenario`` dimension ignores the selected scenario, as
    ``Dataset.sel(scenario=...)`` leaves it unchanged.
    """

    def __init__(self, layout: Layout, scenario: str | None) -> None:
        self.layout = layout
        self.scenario = scenario

    def _position(self, dim: str, label: Any) -> int:
        values = np.asarray(self.layout.coords[dim][1]).tolist()
        try:
            return values.index(label)
        except ValueError:
            raise KeyError(f"{label!r} is not a label of {dim!r}") from None

    def get(self, var: str, **sel: Any) -> np.ndarray:
        layout = self.layout
        dims, data, _ = layout.data[var] if var in layout.data else layout.coords[var]
        if self.scenario is not None and "scenario" in dims:
            sel = {"scenario": self.scenario, **sel}
        unknown = set(sel) - set(dims)
        if unknown:
            raise KeyError(f"{var} has no dimension {sorted(unknown)[0]!r}")
        index = tuple(self._position(d, sel[d]) if d in sel else slice(None) for d in dims)
        array = data if hasattr(data, "shape") else np.asarray(data)  # lists of labels
        return np.asarray(array[index])

    def labels(self, dim: str) -> np.ndarray:
        return np.asarray(self.layout.coords[dim][1])

    def has(self, name: str) -> bool:
        return name in self.layout.data or name in self.layout.coords

    def has_coord(self, name: str) -> bool:
        return name in self.layout.coords

    def var_attrs(self, var: str) -> Mapping[str, Any]:
        return self.layout.data[var][2]


class Result:
    """A simulation result; ``dataset`` holds everything, the methods read it.

    Parameters
    ----------
    dataset
        As loaded by :func:`mkba_sim.load_result`. :func:`make_result` makes a result
        from laid-out arrays instead (:meth:`from_layout`), whose Dataset is built when
        :attr:`dataset` is first read.
    """

    def __init__(self, dataset: xr.Dataset) -> None:
        self._dataset: xr.Dataset | None = dataset
        self._layout: Layout | None = None

    @classmethod
    def from_layout(cls, layout: Layout) -> Result:
        """A result whose Dataset is built from ``layout`` on first access."""
        out = cls.__new__(cls)
        out._dataset = None
        out._layout = layout
        return out

    @property
    def dataset(self) -> xr.Dataset:
        """Everything the run computed, as an :class:`xarray.Dataset` (``docs/results.md``)."""
        if self._dataset is None:
            if self._layout is None:  # pragma: no cover - one of the two is always set
                raise RuntimeError("a Result holds a Dataset or its layout")
            self._dataset = to_dataset(self._layout)
            self._layout = None  # the Dataset is now the one copy read and changed
        return self._dataset

    @property
    def attrs(self) -> Mapping[str, Any]:
        """The result's attributes (provenance, run settings): ``dataset.attrs``."""
        return self._layout.attrs if self._layout is not None else self.dataset.attrs

    def _view(self, scenario: str | None = None) -> _DatasetView | _LayoutView:
        if self._layout is not None:
            return _LayoutView(self._layout, scenario)
        return _DatasetView(self.dataset, scenario)

    def __repr__(self) -> str:
        a = self.attrs
        return (
            f"<Result {a.get('model_title')!r}: {a.get('n_draws')} draws, "
            f"sampler {a.get('sampler')}, scenarios {list(self.scenarios)}>"
        )

    @property
    def scenarios(self) -> list[str]:
        """Scenario names."""
        return [str(s) for s in self._view().labels("scenario")]

    @property
    def has_draws(self) -> bool:
        """True when the individual draws were kept."""
        return self._view().has("total_draws")

    def draws(self, scenario: str, quantity: str = "net") -> np.ndarray:
        """Kept draws of ``quantity`` (benefits, costs, net or bcr) in ``scenario``."""
        if not self.has_draws:
            raise ValueError("draws were not kept; simulate with keep_draws=True")
        v = self._view(scenario)
        if quantity == "bcr":
            return v.get("bcr_draws")
        return v.get("total_draws", quantity=quantity)

    def summary(self, scenario: str) -> dict[str, Any]:
        """Decision quantities of one scenario as plain numbers (``None`` when undefined)."""
        v = self._view(scenario)

        def f(x: Any) -> float | None:
            value = float(x)
            return value if np.isfinite(value) else None

        def q(var: str, p: float, **sel: Any) -> float | None:
            return f(v.get(var, prob=p, **sel))

        def interval(var: str, **sel: Any) -> dict[str, Any]:
            return {
                "median": q(var, 0.5, **sel),
                "interval90": [q(var, 0.05, **sel), q(var, 0.95, **sel)],
                "interval95": [q(var, 0.025, **sel), q(var, 0.975, **sel)],
            }

        n_kept = int(v.get("n_kept"))
        out: dict[str, Any] = {
            "description": str(v.get("description")),
            "n_kept": n_kept,
            "n_dropped": int(v.get("n_dropped")),
            "p_net_positive": f(v.get("p_net_positive")),
            "p_net_positive_mcse": f(v.get("p_net_positive_mcse")),
        }
        for which in QUANTITIES:
            out[which] = {
                "mean": f(v.get("mean", quantity=which)),
                "sd": f(v.get("sd", quantity=which)),
                "mcse": f(v.get("mcse", quantity=which)),
            }
        out["net"].update(interval("net_quantile"))
        out["bcr"] = {
            "mean": f(v.get("bcr_mean")),
            "sd": f(v.get("bcr_sd")),
            "mcse": f(v.get("bcr_mcse")),
            **interval("bcr_quantile"),
            "p_above_1": f(v.get("p_bcr_above_1")),
            "p_above_1_mcse": f(v.get("p_bcr_above_1_mcse")),
            "defined_fraction": f(v.get("bcr_defined")),
        }
        items = {}
        for name in v.labels("item"):
            m = v.get("item_mean", item=name)
            if np.isfinite(float(m)) or n_kept == 0:
                items[str(name)] = {
                    "side": str(v.get("item_side", item=name)),
                    "stakeholder": str(v.get("item_stakeholder", item=name)),
                    "mean": f(m),
                    "mcse": f(v.get("item_mcse", item=name)),
                }
        out["items"] = items
        stakeholders = {}
        for k in v.labels("stakeholder"):
            sel = v.get("stakeholder_mean", stakeholder=k)
            if not np.isfinite(float(sel)) and n_kept > 0:
                continue  # the stakeholder has no item in this scenario
            stakeholders[str(k)] = {
                "mean": f(sel),
                "mcse": f(v.get("stakeholder_mcse", stakeholder=k)),
                "p_positive": f(v.get("p_stakeholder_positive", stakeholder=k)),
                "p_positive_mcse": f(v.get("p_stakeholder_positive_mcse", stakeholder=k)),
                **interval("stakeholder_quantile", stakeholder=k),
            }
        out["stakeholders"] = stakeholders
        if v.has_coord("perspective"):
            out["perspectives"] = {
                str(k): {
                    "stakeholders": str(v.get("perspective_stakeholders", perspective=k)).split(
                        "; "
                    ),
                    "mean": f(v.get("perspective_mean", perspective=k)),
                    "mcse": f(v.get("perspective_mcse", perspective=k)),
                    "p_positive": f(v.get("p_perspective_positive", perspective=k)),
                    "p_positive_mcse": f(v.get("p_perspective_positive_mcse", perspective=k)),
                    **interval("perspective_quantile", perspective=k),
                }
                for k in v.labels("perspective")
            }
        if v.has("per_participant_mean"):
            per: dict[str, Any] = {
                "population": v.var_attrs("per_participant_mean").get("population"),
                "participants": f(v.get("participants")) if v.has("participants") else None,
                "defined_fraction": f(v.get("per_participant_defined")),
            }
            for which in QUANTITIES:
                per[which] = {
                    "mean": f(v.get("per_participant_mean", quantity=which)),
                    "mcse": f(v.get("per_participant_mcse", quantity=which)),
                }
            per["net"].update(interval("per_participant_net_quantile"))
            per["net"]["p_positive"] = f(v.get("p_per_participant_net_positive"))
            if v.has("per_participant_perspective_mean"):
                per["perspectives"] = {
                    str(k): {
                        "mean": f(v.get("per_participant_perspective_mean", perspective=k)),
                        "mcse": f(v.get("per_participant_perspective_mcse", perspective=k)),
                        "p_positive": f(
                            v.get("p_per_participant_perspective_positive", perspective=k)
                        ),
                        **interval("per_participant_perspective_quantile", perspective=k),
                    }
                    for k in v.labels("perspective")
                }
            out["per_participant"] = per
        out["net_per_year"] = {int(y): f(v.get("net_year_mean", year=y)) for y in v.labels("year")}
        return out

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON structure (``schema`` = ``mkba_sim.run/2``)."""
        a = self.attrs
        return {
            "schema": RUN_SCHEMA,
            "model": {
                "path": a["model_path"],
                "title": a["model_title"],
                "sha256": a["model_sha256"],
                "price_year": int(a["price_year"]),
                "currency": a["currency"],
            },
            "run": {
                "seed": a["seed"],
                "draws": int(a["n_draws"]),
                "sampler": a["sampler"],
                "backend": a["backend"],
                "threads": int(a["threads"]),
                "quantile_method": a["quantile_method"],
                "non_finite": a["non_finite"],
                "stopped_early": bool(a.get("stopped_early", 0)),
                "overrides": json.loads(a.get("overrides", "{}")),
                "kernel_key": a.get("kernel_key", ""),
                "seconds": float(a["run_seconds"]),
                "draws_per_second": float(a["draws_per_second"]),
                "mkba_sim_version": a["mkba_sim_version"],
                "created": a["created"],
                **(
                    {
                        "dask": {
                            "scheduler": str(a["dask_scheduler"]),
                            "workers": int(a["dask_workers"]),
                            "threads": int(a["dask_threads"]),  # in all workers
                        }
                    }
                    if "dask_scheduler" in a
                    else {}
                ),
            },
            "scenarios": {s: self.summary(s) for s in self.scenarios},
            "pm": json.loads(a.get("pm", "[]")),
            "posteriors": json.loads(a.get("posteriors", "[]")),
        }
