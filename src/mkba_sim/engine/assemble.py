"""Assemble a :class:`~mkba_sim.results.Result` from the accumulated summaries."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from mkba_sim.engine.accumulate import Accumulator, histogram_quantiles
from mkba_sim.engine.plan import Plan
from mkba_sim.results import PROBS, QUANTITIES, Result, provenance_attrs

if TYPE_CHECKING:
    from mkba_sim.engine.run import RunSettings

__all__ = ["build_result"]


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
    """Assemble the Dataset from the accumulated summaries (and kept draws).

    Quantiles are exact when ``kept`` holds every draw; ``kept`` is stored in the
    dataset only if the user asked to keep draws (``run.keep_draws``).
    """
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
    if kept is not None and run.keep_draws:
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
