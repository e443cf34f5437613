"""How a fit compiles its model: one C module per function, the same draws, a fallback.

A cold fit of the recidivism model is dominated by g++ (docs/bayes.md, "Timings and the
speed target"): :func:`mkba_sim.bayes.sampling.one_c_module` compiles each PyTensor
function as one C module without debug information. These tests use a two-parameter
model so that they compile in seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mkba_sim.bayes.sampling import SamplerSettings, one_c_module, sample_model

pm = pytest.importorskip("pymc")
pytensor = pytest.importorskip("pytensor")

TINY = SamplerSettings(draws=60, tune=60, chains=2, cores=1, seed=11, prior_draws=0)


def _normal_model(potential: Any = None) -> Any:
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 1.0)
        sigma = pm.HalfNormal("sigma", 1.0)
        pm.Normal("y", mu, sigma, observed=np.array([0.3, -0.2, 1.1, 0.4]))
        if potential is not None:
            pm.Potential("extra", potential(mu))
    return model


def test_one_c_module_links_a_whole_function_and_drops_debug_info() -> None:
    import pytensor.tensor as pt
    from pytensor.link.c.basic import CLinker

    before = (pytensor.config.linker, pytensor.config.gcc__cxxflags)
    x = pt.dvector("x")
    with one_c_module():
        assert pytensor.config.linker == "c"
        assert pytensor.config.gcc__cxxflags.split()[-1] == "-g0"
        f = pytensor.function([x], [pt.exp(x).sum(), pt.log1p(x) * 2.0])
    assert isinstance(f.maker.linker, CLinker)  # one module, not one per operation
    assert (pytensor.config.linker, pytensor.config.gcc__cxxflags) == before
    total, scaled = f(np.array([0.0, 1.0]))
    assert total == pytest.approx(1.0 + np.e, rel=1e-15)
    assert scaled == pytest.approx(2.0 * np.log1p([0.0, 1.0]), rel=1e-15)


def test_one_c_module_changes_nothing_without_a_compiler() -> None:
    with pytensor.config.change_flags(cxx=""):
        before = (pytensor.config.linker, pytensor.config.gcc__cxxflags)
        with one_c_module():
            assert (pytensor.config.linker, pytensor.config.gcc__cxxflags) == before


def test_one_c_module_gives_the_same_draws_as_the_default_linker() -> None:
    """Same operations, same C code per operation: the draws agree bit for bit."""
    default = pm.sample(
        draws=TINY.draws,
        tune=TINY.tune,
        chains=TINY.chains,
        cores=1,
        random_seed=TINY.seed,
        target_accept=TINY.target_accept,
        progressbar=False,
        compute_convergence_checks=False,
        model=_normal_model(),
    )
    ours = sample_model(_normal_model(), TINY)
    for name in ("mu", "sigma"):
        assert np.array_equal(ours.posterior[name].values, default.posterior[name].values)


def test_an_operation_without_c_code_falls_back_to_the_default_linker() -> None:
    import pytensor.tensor as pt
    from pytensor.graph.basic import Apply
    from pytensor.graph.op import Op

    class HalfSquare(Op):
        """-x²/2 with only a Python implementation (no C code)."""

        def make_node(self, x: Any) -> Apply:
            x = pt.as_tensor_variable(x)
            return Apply(self, [x], [x.type()])

        def perform(self, node: Any, inputs: Any, outputs: Any) -> None:
            outputs[0][0] = np.asarray(-0.5 * inputs[0] ** 2)

        def grad(self, inputs: Any, grads: Any) -> Any:
            return [-grads[0] * inputs[0]]

    x = pt.dscalar("x")
    with pytest.raises(NotImplementedError), one_c_module():  # the c linker refuses it
        pytensor.function([x], HalfSquare()(x))
    idata = sample_model(_normal_model(HalfSquare()), TINY)
    assert idata.posterior["mu"].shape == (TINY.chains, TINY.draws)
    assert np.all(np.isfinite(idata.posterior["mu"].values))
