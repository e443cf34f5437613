"""The :class:`Result` of a simulation: an xarray Dataset with provenance.

Layer rule: imports numpy and xarray only; no file I/O — saving and loading is
:mod:`mkba_sim.io.results`; the engine builds results (:mod:`mkba_sim.engine.assemble`).

Dimensions: ``scenario``, ``quantity`` (benefits, costs, net, bcr), ``item``,
``stakeholder``, ``year``, ``prob`` (quantile levels), ``hist``/``bin`` (streaming
histograms) and, when draws are kept, ``draw`` and ``input``.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
from importlib import metadata
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["PROBS", "QUANTITIES", "RUN_SCHEMA", "Result", "provenance_attrs"]

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
            "posteriors": json.loads(a.get("posteriors", "[]")),
        }
