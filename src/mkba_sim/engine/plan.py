"""Lay a model out as flat arrays for the kernels: parameter instances, streams, items.

All scenarios are simulated in one pass. A parameter that a scenario overrides becomes a
separate *instance*, but instances of the same name share one *stream* of uniforms, so
scenarios are compared under common random numbers. Posterior variables from the same
source share a stream, so they are drawn jointly (same posterior draw index).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from mkba_sim.distributions import Distribution, Posterior
from mkba_sim.errors import SimulationError
from mkba_sim.kernels import sampling as ks
from mkba_sim.model import Model, Scenario

__all__ = ["Plan", "check_scenarios", "make_plan", "stream_key"]


def stream_key(label: str) -> np.uint64:
    """64-bit stream identifier of a parameter name or posterior source (BLAKE2b)."""
    digest = hashlib.blake2b(label.encode("utf-8"), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


@dataclass(frozen=True)
class Instance:
    """One distinct (name, distribution) pair across scenarios."""

    name: str
    label: str  # name, or name@scenario for an override
    dist: Distribution
    stream: int  # index into Plan.streams, -1 if fixed


@dataclass
class Plan:
    """Everything the kernels need, as arrays, plus the names to label results."""

    model: Model
    scenarios: tuple[str, ...]
    instances: tuple[Instance, ...]
    stream_labels: tuple[str, ...]
    streams: np.ndarray  # uint64 [n_streams]
    codes: np.ndarray  # int64 [n_inst]
    stream_of: np.ndarray  # int64 [n_inst]
    fpar: np.ndarray  # float64 [n_inst, 4]
    ipar: np.ndarray  # int64 [n_inst, 2]
    pool: np.ndarray  # float64
    corr_members: np.ndarray  # int64, stream indices
    corr_ptr: np.ndarray  # int64 [n_blocks + 1]
    chol: np.ndarray  # float64, row-major Cholesky factors
    chol_ptr: np.ndarray  # int64 [n_blocks]
    instance_of: dict[str, dict[str, int]]  # scenario -> parameter name -> instance
    item_names: tuple[tuple[str, ...], ...]  # per scenario
    item_ptr: np.ndarray  # int64 [S + 1]: slice of the flat item arrays per scenario
    is_benefit: np.ndarray  # bool [K]
    pv_weight: np.ndarray  # float64 [K]

    @property
    def n_items(self) -> int:
        """Items over all scenarios (the flat item index K)."""
        return int(self.item_ptr[-1])

    @property
    def n_stats(self) -> int:
        """Accumulated statistics: K item PVs, then benefits, costs, net, bcr per scenario."""
        return self.n_items + 4 * len(self.scenarios)

    def total_index(self, s: int, which: str) -> int:
        """Flat statistic index of ``which`` (benefits, costs, net, bcr) of scenario ``s``."""
        return self.n_items + 4 * s + ("benefits", "costs", "net", "bcr").index(which)


def check_scenarios(model: Model, scenarios: tuple[str, ...] | None) -> tuple[str, ...]:
    """The scenario names to run (all by default); unknown names are an error."""
    names = tuple(scenarios) if scenarios else tuple(model.scenarios)
    for n in names:
        if n not in model.scenarios:
            raise SimulationError(
                f"{model.path}: unknown scenario {n!r}; choose from {sorted(model.scenarios)}"
            )
    return names


def make_plan(model: Model, scenarios: tuple[str, ...] | None = None) -> Plan:
    """Flatten ``model`` (posterior draws attached) for the scenarios asked for."""
    names = check_scenarios(model, scenarios)
    chosen = [model.scenarios[n] for n in names]
    stream_labels: list[str] = []
    instances: list[Instance] = []
    index: dict[tuple[str, Distribution], int] = {}
    instance_of: dict[str, dict[str, int]] = {}
    for sc in chosen:
        mapping: dict[str, int] = {}
        for pname, p in sc.parameters.items():
            k = (pname, p.dist)
            if k not in index:
                label = (
                    pname if not any(i.name == pname for i in instances) else f"{pname}@{sc.name}"
                )
                stream = -1
                if p.dist.is_random:
                    slabel = p.dist.group if isinstance(p.dist, Posterior) else pname
                    if slabel not in stream_labels:
                        stream_labels.append(slabel)
                    stream = stream_labels.index(slabel)
                index[k] = len(instances)
                instances.append(Instance(pname, label, p.dist, stream))
            mapping[pname] = index[k]
        instance_of[sc.name] = mapping
    codes, fpar, ipar, pool_parts = [], [], [], []
    offset = 0
    for inst in instances:
        enc = inst.dist.encode()
        codes.append(enc.code)
        fpar.append(enc.fpar)
        if enc.table is not None:
            n = len(enc.table)
            count = n // 2 if enc.code == ks.DISCRETE else n  # values then CDF
            ipar.append((offset, count))
            pool_parts.append(np.asarray(enc.table, dtype=np.float64))
            offset += n
        else:
            ipar.append((0, 0))
    corr_members: list[int] = []
    corr_ptr = [0]
    chol: list[float] = []
    chol_ptr: list[int] = []
    for block in model.base.correlations:
        for name in block.names:
            corr_members.append(stream_labels.index(name))
        corr_ptr.append(len(corr_members))
        chol_ptr.append(len(chol))
        chol.extend(np.asarray(block.cholesky, dtype=np.float64).ravel().tolist())
    item_names, item_ptr, is_benefit, pv_weight = [], [0], [], []
    for sc in chosen:
        item_names.append(tuple(it.name for it in sc.items))
        for it in sc.items:
            is_benefit.append(it.side == "benefit")
            pv_weight.append(it.pv_weight(sc.settings.discount_rate))
        item_ptr.append(item_ptr[-1] + len(sc.items))
    return Plan(
        model=model,
        scenarios=names,
        instances=tuple(instances),
        stream_labels=tuple(stream_labels),
        streams=np.array([stream_key(s) for s in stream_labels], dtype=np.uint64),
        codes=np.array(codes, dtype=np.int64),
        stream_of=np.array([i.stream for i in instances], dtype=np.int64),
        fpar=np.array(fpar, dtype=np.float64).reshape(len(instances), 4),
        ipar=np.array(ipar, dtype=np.int64).reshape(len(instances), 2),
        pool=np.concatenate(pool_parts) if pool_parts else np.zeros(1),
        corr_members=np.array(corr_members, dtype=np.int64),
        corr_ptr=np.array(corr_ptr, dtype=np.int64),
        chol=np.array(chol if chol else [0.0], dtype=np.float64),
        chol_ptr=np.array(chol_ptr if chol_ptr else [0], dtype=np.int64),
        instance_of=instance_of,
        item_names=tuple(item_names),
        item_ptr=np.array(item_ptr, dtype=np.int64),
        is_benefit=np.array(is_benefit, dtype=np.bool_),
        pv_weight=np.array(pv_weight, dtype=np.float64),
    )


def scenario_of(plan: Plan, s: int) -> Scenario:
    """The model scenario behind index ``s``."""
    return plan.model.scenarios[plan.scenarios[s]]
