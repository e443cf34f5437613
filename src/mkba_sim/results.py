"""The :class:`Result` of a simulation: an xarray Dataset with provenance.

Layer rule: imports numpy and xarray (and, for building, the engine's plan and
accumulator types); no file I/O — saving and loading is :mod:`mkba_sim.io.results`.

Dimensions: ``scenario``, ``quantity`` (benefits, costs, net, bcr), ``item``,
``stakeholder``, ``year``, ``prob`` (quantile levels), ``hist``/``bin`` (streaming
histograms) and, when draws are kept, ``draw`` and ``input``.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
from importlib import metadata
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

if TYPE_CHECKING:
    from mkba_sim.engine.accumulate import Accumulator
    from mkba_sim.engine.plan import Plan
    from mkba_sim.engine.run import RunSettings

__all__ = ["PROBS", "RUN_SCHEMA", "Result", "build_result", "provenance_attrs"]

PROBS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975, 0.99)
QUANTITIES = ("benefits", "costs", "net", "bcr")
RUN_SCHEMA = "mkba_sim.run/1"


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "not installed"


def provenance_attrs() -> dict[str, str]:
    """Package versions, platform and time, for every saved output (cf. arviz ``make_attrs``)."""
    attrs = {f"{p}_version": _version(p) for p in ("mkba_sim", "numpy", "scipy", "numba", "xarray")}
    attrs["python_version"] = platform.python_version()
    attrs["created"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    return attrs


class Result:
    """A simulation result; ``dataset`` holds everything, the methods read it.

    Parameters
    ----------
    dataset
        As built by :func:`build_result` or loaded by :func:`mkba_sim.load_result`.
    """

    def __init__(self, dataset: xr.Dataset) -> None:
        self.dataset = dataset

    def __repr__(self) -> str:
        a = self.dataset.attrs
        return (
            f"<Result {a.get('model_title')!r}: {a.get('n_draws')} draws, "
            f"sampler {a.get('sampler')}, scenarios {list(self.scenarios)}>"
        )

    @property
    def scenarios(self) -> list[str]:
        """Scenario names."""
        return [str(s) for s in self.dataset["scenario"].values]

    @property
    def has_draws(self) -> bool:
        """True when the individual draws were kept."""
        return "total_draws" in self.dataset

    def draws(self, scenario: str, quantity: str = "net") -> np.ndarray:
        """Kept draws of ``quantity`` (benefits, costs, net, bcr) in ``scenario``."""
        if not self.has_draws:
            raise ValueError("draws were not kept; simulate with keep_draws=True")
        return np.asarray(
            self.dataset["total_draws"].sel(scenario=scenario, quantity=quantity).values
        )

    def summary(self, scenario: str) -> dict[str, Any]:
        """Decision quantities of one scenario as plain numbers."""
        ds = self.dataset.sel(scenario=scenario)

        def f(x: Any) -> float | None:
            v = float(x)
            return v if np.isfinite(v) else None

        def q(which: str, p: float) -> float | None:
            return f(ds["quantiles"].sel(quantity_q=which, prob=p))

        out: dict[str, Any] = {
            "description": str(ds["description"].values),
            "p_net_positive": f(ds["p_net_positive"]),
            "p_net_positive_mcse": f(ds["p_net_positive_mcse"]),
        }
        for which in QUANTITIES:
            entry: dict[str, Any] = {
                "mean": f(ds["mean"].sel(quantity=which)),
                "sd": f(ds["sd"].sel(quantity=which)),
                "mcse": f(ds["mcse"].sel(quantity=which)),
            }
            if which in ("net", "bcr"):
                entry["median"] = q(which, 0.5)
                entry["interval90"] = [q(which, 0.05), q(which, 0.95)]
                entry["interval95"] = [q(which, 0.025), q(which, 0.975)]
            out[which] = entry
        out["bcr"]["p_above_1"] = f(ds["p_bcr_above_1"])
        out["bcr"]["p_above_1_mcse"] = f(ds["p_bcr_above_1_mcse"])
        out["bcr"]["defined_fraction"] = f(ds["bcr_defined"])
        items = {}
        for name in ds["item"].values:
            m = ds["item_mean"].sel(item=name)
            if np.isfinite(float(m)):
                items[str(name)] = {
                    "side": str(ds["item_side"].sel(item=name).values),
                    "stakeholder": str(ds["item_stakeholder"].sel(item=name).values),
                    "mean": f(m),
                    "mcse": f(ds["item_mcse"].sel(item=name)),
                }
        out["items"] = items
        out["stakeholders"] = {
            str(k): f(ds["stakeholder_net"].sel(stakeholder=k)) for k in ds["stakeholder"].values
        }
        out["net_per_year"] = {int(y): f(ds["net_year_pv"].sel(year=y)) for y in ds["year"].values}
        return out

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON structure (``schema`` = ``mkba_sim.run/1``)."""
        a = self.dataset.attrs
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
                "seconds": float(a["run_seconds"]),
                "draws_per_second": float(a["draws_per_second"]),
                "mkba_sim_version": a["mkba_sim_version"],
                "created": a["created"],
            },
            "scenarios": {s: self.summary(s) for s in self.scenarios},
            "pm": json.loads(a.get("pm", "[]")),
        }


def _item_axes(plan: Plan) -> tuple[list[str], dict[str, tuple[str, str]]]:
    names: list[str] = []
    meta: dict[str, tuple[str, str]] = {}
    for sc_name in plan.scenarios:
        for it in plan.model.scenarios[sc_name].items:
            if it.name not in meta:
                names.append(it.name)
                meta[it.name] = (it.side, it.stakeholder)
    return names, meta


def build_result(
    plan: Plan,
    acc: Accumulator,
    run: RunSettings,
    kept: np.ndarray | None,
    compile_seconds: float,
    run_seconds: float,
) -> Result:
    """Assemble the Dataset from the accumulated summaries (and kept draws)."""
    from mkba_sim.engine.accumulate import histogram_quantiles

    scen = list(plan.scenarios)
    n_scen = len(scen)
    item_names, meta = _item_axes(plan)
    horizon = max(plan.model.scenarios[s].settings.horizon_years for s in scen)
    years = list(range(1, horizon + 1))
    stakeholders = sorted({m[1] for m in meta.values()})
    mean, sd, mcse = acc.mean(), acc.sd(), acc.mcse()
    total_idx = np.array([[plan.total_index(s, q) for q in QUANTITIES] for s in range(n_scen)])
    item_mean = np.full((n_scen, len(item_names)), np.nan)
    item_sd = np.full_like(item_mean, np.nan)
    item_mcse = np.full_like(item_mean, np.nan)
    year_value = np.full((n_scen, len(item_names), len(years)), np.nan)
    net_year = np.zeros((n_scen, len(years)))
    stake = np.zeros((n_scen, len(stakeholders)))
    for s, sc_name in enumerate(scen):
        sc = plan.model.scenarios[sc_name]
        base = int(plan.item_ptr[s])
        for k, it in enumerate(sc.items):
            i = item_names.index(it.name)
            flat = base + k
            item_mean[s, i], item_sd[s, i], item_mcse[s, i] = mean[flat], sd[flat], mcse[flat]
            w = plan.pv_weight[flat]
            yearly = mean[flat] / w if w != 0 else 0.0
            for t, (keep, disc) in it.year_factors(sc.settings.discount_rate).items():
                year_value[s, i, t - 1] = yearly * keep
                net_year[s, t - 1] += it.sign * yearly * disc
            stake[s, stakeholders.index(it.stakeholder)] += it.sign * mean[flat]
    p_pos, p_bcr, bcr_defined = acc.probabilities()
    n_bcr = acc.counts[:, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        p_pos_mcse = np.sqrt(p_pos * (1 - p_pos) / acc.n)
        p_bcr_mcse = np.sqrt(p_bcr * (1 - p_bcr) / n_bcr)
    probs = np.array(PROBS)
    quant = np.full((n_scen, 2, len(probs)), np.nan)
    method = "exact" if kept is not None else "histogram"
    n_inst = len(plan.instances)
    for s in range(n_scen):
        for h, which in enumerate(("net", "bcr")):
            if kept is not None:
                v = kept[:, n_inst + plan.total_index(s, which)]
                v = v[np.isfinite(v)]
                if v.size:
                    quant[s, h] = np.quantile(v, probs)
            else:
                quant[s, h] = histogram_quantiles(acc.hist[s, h], acc.edges(s, h), probs)
    m = plan.model
    attrs: dict[str, Any] = {
        "model_path": m.path,
        "model_sha256": m.sha256,
        "model_title": m.title,
        "price_year": m.settings.price_year,
        "currency": m.settings.currency,
        "seed": run.seed_entropy,
        "n_draws": acc.n,
        "draws_requested": run.draws,
        "sampler": run.sampler,
        "backend": run.backend,
        "threads": run.threads,
        "chunk_size": run.chunk_size,
        "keep_draws": int(run.keep_draws),
        "quantile_method": method,
        "quantile_accuracy": (
            "exact (type 7, linear interpolation)"
            if kept is not None
            else "histogram of 65536 bins over twice the pilot range: error at "
            "most one bin width; NaN if outside the range"
        ),
        "target_mcse_p": "" if run.target_mcse_p is None else run.target_mcse_p,
        "target_mcse_mean": "" if run.target_mcse_mean is None else run.target_mcse_mean,
        "compile_seconds": compile_seconds,
        "run_seconds": run_seconds,
        "draws_per_second": acc.n / run_seconds if run_seconds > 0 else float("nan"),
        "pm": json.dumps(
            [{"name": p.name, "side": p.side, "note": p.note, "source": p.source} for p in m.pm]
        ),
        "notes": m.settings.notes,
        **provenance_attrs(),
    }
    data: dict[str, Any] = {
        "description": (("scenario",), [m.scenarios[s].description for s in scen]),
        "mean": (("scenario", "quantity"), mean[total_idx]),
        "sd": (("scenario", "quantity"), sd[total_idx]),
        "mcse": (("scenario", "quantity"), mcse[total_idx]),
        "p_net_positive": (("scenario",), p_pos),
        "p_net_positive_mcse": (("scenario",), p_pos_mcse),
        "p_bcr_above_1": (("scenario",), p_bcr),
        "p_bcr_above_1_mcse": (("scenario",), p_bcr_mcse),
        "bcr_defined": (("scenario",), bcr_defined),
        "quantiles": (("scenario", "quantity_q", "prob"), quant),
        "item_mean": (("scenario", "item"), item_mean),
        "item_sd": (("scenario", "item"), item_sd),
        "item_mcse": (("scenario", "item"), item_mcse),
        "item_side": (("item",), [meta[i][0] for i in item_names]),
        "item_stakeholder": (("item",), [meta[i][1] for i in item_names]),
        "item_year_value": (("scenario", "item", "year"), year_value),
        "net_year_pv": (("scenario", "year"), net_year),
        "stakeholder_net": (("scenario", "stakeholder"), stake),
        "hist_counts": (("scenario", "hist", "bin"), acc.hist),
        "hist_lo": (("scenario", "hist"), acc.hist_lo),
        "hist_scale": (("scenario", "hist"), acc.hist_scale),
    }
    coords: dict[str, Any] = {
        "scenario": scen,
        "quantity": list(QUANTITIES),
        "quantity_q": ["net", "bcr"],
        "prob": probs,
        "item": item_names,
        "year": years,
        "stakeholder": stakeholders,
        "hist": ["net", "bcr"],
    }
    if kept is not None:
        labels = [inst.label for inst in plan.instances]
        coords["input"] = labels
        data["input_draws"] = (("draw", "input"), kept[:, :n_inst])
        totals = np.stack([kept[:, n_inst + total_idx[s]].T for s in range(n_scen)])
        data["total_draws"] = (("scenario", "quantity", "draw"), totals)
        items = np.full((n_scen, len(item_names), kept.shape[0]), np.nan)
        for s, sc_name in enumerate(scen):
            base = int(plan.item_ptr[s])
            for k, it in enumerate(m.scenarios[sc_name].items):
                items[s, item_names.index(it.name)] = kept[:, n_inst + base + k]
        data["item_draws"] = (("scenario", "item", "draw"), items)
    return Result(xr.Dataset(data, coords=coords, attrs=attrs))
