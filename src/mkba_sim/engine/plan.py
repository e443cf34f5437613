"""A run in two parts: the *structure* that is compiled and the *numbers* passed as arrays.

:class:`Plan` is the structure of the scenarios asked for: which parameter instances
exist, the expression trees, the ledger (which item goes into which balance and year),
the statistics plan and the positions of the constants. Its generated kernel is cached
by that structure alone (:func:`mkba_sim.engine.codegen.kernel_key`).

:class:`Numbers` holds every number: distribution codes, parameters and quantile
tables, populations and literal constants, PV weights and year factors, thresholds,
correlation factors and the random streams. :meth:`Plan.numbers` builds them, with
optional overrides, so changing any value — in the file, in another scenario of the same
structure, or as an override — reuses the compiled kernel.

All scenarios are simulated in one pass. A parameter that a scenario overrides in the
file is a separate *instance*, but instances of the same name share one *stream* of
uniforms, so scenarios are compared under common random numbers. Posterior variables
from the same source share a stream, so they are drawn jointly (same posterior draw).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mkba_sim.distributions import Dependent, Distribution, Posterior
from mkba_sim.distributions.base import TableStore, encode_with
from mkba_sim.engine.stats import StatsPlan, make_stats_plan
from mkba_sim.errors import SimulationError
from mkba_sim.kernels import layout as ks
from mkba_sim.model import Model, Scenario
from mkba_sim.model.dependent import dependent_refs, parameter_order
from mkba_sim.model.expressions import Node, Num, walk
from mkba_sim.model.ledger import Ledger, ledger_of, ledger_weights
from mkba_sim.model.overrides import resolve_override

__all__ = ["Instance", "Numbers", "Plan", "check_scenarios", "make_plan", "stream_key"]


def stream_key(label: str) -> np.uint64:
    """64-bit stream identifier of a parameter name or posterior source (BLAKE2b)."""
    digest = hashlib.blake2b(label.encode("utf-8"), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def _stream_label(name: str, dist: Distribution) -> str:
    return dist.group if isinstance(dist, Posterior) else name


@dataclass(frozen=True)
class Instance:
    """One parameter as defined in one place of the file (base or a scenario override)."""

    name: str
    label: str  # name, or name@scenario for a scenario's own definition


@dataclass(frozen=True)
class Numbers:
    """Every number of a run, as the arrays the kernels take."""

    dists: tuple[Distribution, ...]  # per instance, after overrides
    stream_labels: tuple[str, ...]
    streams: np.ndarray  # uint64 [n_streams]
    codes: np.ndarray  # int64 [n_inst]
    stream_of: np.ndarray  # int64 [n_inst], -1 for fixed values
    fpar: np.ndarray  # float64 [n_inst, 4]
    ipar: np.ndarray  # int64 [n_inst, 2]
    pool: np.ndarray  # float64 tables
    corr_members: np.ndarray  # int64 stream indices
    corr_ptr: np.ndarray  # int64 [n_blocks + 1]
    chol: np.ndarray  # float64 row-major Cholesky factors
    chol_ptr: np.ndarray  # int64 [n_blocks]
    cst: np.ndarray  # float64: populations and literal constants
    pv_weight: np.ndarray  # float64 [K items over all scenarios]
    year_coef: np.ndarray  # float64 [year-balance terms over all scenarios]
    thresholds: np.ndarray  # float64 [n_exceed]
    overrides: dict[str, str] = field(default_factory=dict)  # name -> what it was set to


@dataclass
class Plan:
    """The structure of a run (what the kernel is compiled for) and its default numbers."""

    model: Model
    scenarios: tuple[str, ...]
    instances: tuple[Instance, ...]
    instance_of: dict[str, dict[str, int]]  # scenario -> parameter name -> instance
    ledgers: tuple[Ledger, ...]
    item_ptr: np.ndarray  # int64 [S + 1]: slice of the flat item arrays per scenario
    year_ptr: np.ndarray  # int64 [S + 1]: slice of the flat year coefficients
    stats: StatsPlan
    pop_slot: dict[tuple[int, str], int]  # (scenario, population) -> constant slot
    num_slot: dict[tuple[int, int], int]  # (scenario, id(Num node)) -> constant slot
    cst_default: np.ndarray
    _params: tuple[Any, ...] = field(repr=False, default=())  # Parameter per instance
    dependent: tuple[tuple[int, int], ...] = ()
    """(instance, scenario index) of each parameter whose distribution keys are
    expressions, in dependency order: the kernel computes it per draw with the names of
    that scenario (:mod:`mkba_sim.model.dependent`)."""

    def scenario(self, s: int) -> Scenario:
        """The model scenario behind index ``s``."""
        return self.model.scenarios[self.scenarios[s]]

    @property
    def n_instances(self) -> int:
        """Parameter instances over all scenarios."""
        return len(self.instances)

    def unit_of(self, j: int) -> str:
        """Unit of parameter instance ``j`` as written in the file ("1" if none)."""
        return str(self._params[j].unit or "1")

    def input_names(self) -> set[str]:
        """Names an override may set: parameters and populations."""
        out = {i.name for i in self.instances}
        for s in range(len(self.scenarios)):
            out |= set(self.scenario(s).populations)
        return out

    def numbers(
        self,
        overrides: Mapping[str, Any] | None = None,
        rekey: Mapping[str, np.uint64] | None = None,
        tables: TableStore | None = None,
    ) -> Numbers:
        """The arrays of this plan, with ``overrides`` (name -> value) applied everywhere.

        ``rekey`` maps an input name to a 64-bit value XOR-ed into its stream identifier:
        the run key ``k`` then meets ``stream ^ k ^ k2``, so that input draws exactly the
        uniforms it would draw under run key ``k2`` (reruns for Sobol' indices).
        ``tables`` keeps quantile tables between processes (the numbers are the same
        with or without).

        Raises
        ------
        SimulationError
            For an unknown name (with a suggestion) or an override that is not a number,
            :class:`~mkba_sim.model.overrides.Quantile` or distribution.
        """
        overrides = dict(overrides or {})
        known = self.input_names()
        for name in overrides:
            if name not in known:
                from mkba_sim.errors import did_you_mean

                raise SimulationError(
                    f"{self.model.path}: override {name!r} is not a parameter or population "
                    f"of the model{did_you_mean(name, known)}"
                )
        pops = {s for (_, s) in self.pop_slot}
        dists: list[Distribution] = []
        shown: dict[str, str] = {}
        for j, inst in enumerate(self.instances):
            d = self._params[j].dist
            if inst.name in overrides and inst.name not in pops:
                try:
                    d = resolve_override(inst.name, d, overrides[inst.name])
                except ValueError as exc:
                    raise SimulationError(f"override {exc}") from None
                shown[inst.name] = repr(overrides[inst.name])
            dists.append(d)
        # streams: those of the model's random inputs first, then any an override adds
        labels: list[str] = []
        for j, inst in enumerate(self.instances):
            if self._params[j].dist.is_random:
                lab = _stream_label(inst.name, self._params[j].dist)
                if lab not in labels:
                    labels.append(lab)
        stream_of = []
        for inst, d in zip(self.instances, dists, strict=True):
            if not d.is_random:
                stream_of.append(-1)
                continue
            lab = _stream_label(inst.name, d)
            if lab not in labels:
                labels.append(lab)
            stream_of.append(labels.index(lab))
        codes, fpar, ipar, parts = [], [], [], []
        offset = 0
        for d in dists:
            enc = encode_with(d, tables)
            codes.append(enc.code)
            fpar.append(enc.fpar)
            if enc.table is not None:
                n = len(enc.table)
                ipar.append((offset, n // 2 if enc.code == ks.DISCRETE else n))
                parts.append(np.asarray(enc.table, dtype=np.float64))
                offset += n
            else:
                ipar.append((0, 0))
        streams = np.array([stream_key(s) for s in labels], dtype=np.uint64)
        for name, delta in (rekey or {}).items():
            if name not in known:
                raise SimulationError(f"{self.model.path}: cannot re-key unknown input {name!r}")
            for inst, d in zip(self.instances, dists, strict=True):
                if inst.name == name and d.is_random:
                    k = labels.index(_stream_label(name, d))
                    streams[k] = stream_key(labels[k]) ^ np.uint64(delta)
        members: list[int] = []
        ptr = [0]
        chol: list[float] = []
        chol_ptr: list[int] = []
        for block in self.model.base.correlations:
            for name in block.names:
                members.append(labels.index(name))
            ptr.append(len(members))
            chol_ptr.append(len(chol))
            chol.extend(np.asarray(block.cholesky, dtype=np.float64).ravel().tolist())
        cst = self.cst_default.copy()
        for (_s, pname), slot in self.pop_slot.items():
            if pname in overrides:
                v = overrides[pname]
                if isinstance(v, bool) or not isinstance(v, int | float | np.number):
                    raise SimulationError(
                        f"override {pname}: a population can only be set to a number, got {v!r}"
                    )
                if not np.isfinite(v) or v < 0:
                    raise SimulationError(
                        f"override {pname}: a population must be finite and ≥ 0, got {v!r}"
                    )
                cst[slot] = float(v)
                shown[pname] = repr(v)
        pv, year = [], []
        for s, ledger in enumerate(self.ledgers):
            w = ledger_weights(self.scenario(s), ledger)
            pv.append(w.pv)
            year.append(w.year)
        n_inst = len(self.instances)
        return Numbers(
            dists=tuple(dists),
            stream_labels=tuple(labels),
            streams=streams,
            codes=np.array(codes, dtype=np.int64),
            stream_of=np.array(stream_of, dtype=np.int64),
            fpar=np.array(fpar, dtype=np.float64).reshape(n_inst, 4),
            ipar=np.array(ipar, dtype=np.int64).reshape(n_inst, 2),
            pool=np.concatenate(parts) if parts else np.zeros(1),
            corr_members=np.array(members, dtype=np.int64),
            corr_ptr=np.array(ptr, dtype=np.int64),
            chol=np.array(chol if chol else [0.0], dtype=np.float64),
            chol_ptr=np.array(chol_ptr if chol_ptr else [0], dtype=np.int64),
            cst=cst if cst.size else np.zeros(1),
            pv_weight=np.concatenate(pv) if pv else np.zeros(1),
            year_coef=np.concatenate([*year, np.zeros(1)]),
            thresholds=self.stats.thresholds(),
            overrides=shown,
        )


def check_scenarios(model: Model, scenarios: tuple[str, ...] | None) -> tuple[str, ...]:
    """The scenario names to run (all by default); unknown names are an error."""
    names = tuple(scenarios) if scenarios else tuple(model.scenarios)
    for n in names:
        if n not in model.scenarios:
            raise SimulationError(
                f"{model.path}: unknown scenario {n!r}; choose from {sorted(model.scenarios)}"
            )
    return names


def _expressions(sc: Scenario) -> list[Node]:
    dep = [a for p in sc.parameters.values() if isinstance(p.dist, Dependent) for a in p.dist.args]
    return dep + [d.expr for d in sc.derived] + [ex for it in sc.items for ex in it.expressions]


def make_plan(model: Model, scenarios: tuple[str, ...] | None = None) -> Plan:
    """The structure of ``model`` (posterior draws attached) for the scenarios asked for.

    Instances follow the file: a parameter is one instance where it is defined (in the
    base or in a scenario that overrides it), whatever its values, so that a changed
    number never changes the layout.
    """
    names = check_scenarios(model, scenarios)
    chosen = [model.scenarios[n] for n in names]
    instances: list[Instance] = []
    params: list[Any] = []
    index: dict[tuple[Any, ...], int] = {}
    instance_of: dict[str, dict[str, int]] = {}
    dependent: list[tuple[int, int]] = []
    for s, sc in enumerate(chosen):
        mapping: dict[str, int] = {}
        for pname in parameter_order(sc.parameters):
            p = sc.parameters[pname]
            k: tuple[Any, ...] = (pname, id(p))
            if isinstance(p.dist, Dependent):
                # one instance per set of inputs it is computed from (and per scenario
                # when it uses a population, whose value a scenario may change)
                refs = dependent_refs(p.dist)
                sig = tuple(sorted((r, mapping[r]) for r in refs if r in mapping))
                k = (pname, id(p), sig, s if refs & set(sc.populations) else -1)
                if k not in index:
                    dependent.append((len(instances), s))
            if k not in index:
                label = (
                    pname if not any(i.name == pname for i in instances) else f"{pname}@{sc.name}"
                )
                index[k] = len(instances)
                instances.append(Instance(pname, label))
                params.append(p)
            mapping[pname] = index[k]
        instance_of[sc.name] = mapping
    ledgers = tuple(ledger_of(sc) for sc in chosen)
    item_ptr, year_ptr = [0], [0]
    for led in ledgers:
        item_ptr.append(item_ptr[-1] + len(led.items))
        year_ptr.append(year_ptr[-1] + sum(len(b.terms) for b in led.years))
    pop_slot: dict[tuple[int, str], int] = {}
    num_slot: dict[tuple[int, int], int] = {}
    cst: list[float] = []
    for s, sc in enumerate(chosen):
        for pname in sorted(sc.populations):
            pop_slot[(s, pname)] = len(cst)
            cst.append(float(sc.populations[pname]))
        for expr in _expressions(sc):
            for node in walk(expr):
                if isinstance(node, Num) and (s, id(node)) not in num_slot:
                    num_slot[(s, id(node))] = len(cst)
                    cst.append(float(node.value))
    return Plan(
        model=model,
        scenarios=names,
        instances=tuple(instances),
        instance_of=instance_of,
        ledgers=ledgers,
        item_ptr=np.array(item_ptr, dtype=np.int64),
        year_ptr=np.array(year_ptr, dtype=np.int64),
        stats=make_stats_plan(ledgers),
        pop_slot=pop_slot,
        num_slot=num_slot,
        cst_default=np.array(cst, dtype=np.float64),
        _params=tuple(params),
        dependent=tuple(dependent),
    )
