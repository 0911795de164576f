"""The torch and JAX targets checked against the frameworks, over the codegen catalogue.

Every catalogue program (``test_codegen_catalogue.CATALOGUE``) is generated for torch and for JAX
through ``matcalc.codegen(..., target=)``, which checks the module itself before returning it;
then, independently of matcalc's own check:

* torch: ``torch.autograd.gradcheck(fn, inputs)`` — torch's finite differences of ``fn`` against
  matcalc's backward run by torch's autograd — in float64 and (looser, as float32 allows) float32,
  and the same module run on the ``meta`` device (no data: every operation must be a torch
  operation that keeps the inputs' device and dtype);
* JAX: ``jax.grad(fn)`` (matcalc's backward through ``custom_vjp``, under ``jax.jit``) against
  ``jax.grad`` of the module's own forward (JAX's autodiff of the same forward), float64 and float32.

Points are matcalc's own domain-aware draws (positive where a log needs it, away from kinks).
"""
from __future__ import annotations

import numpy as np
import pytest
from conftest import extra
from test_codegen_catalogue import CATALOGUE, _unsupported

import matcalc
from matcalc.core.errors import UnsupportedError
from matcalc.core.graph import topo_order
from matcalc.core.kinds import generic_function
from matcalc.generate.gradcheck import load, sample_inputs
from matcalc.language.program import resolve_wrt, typed_program


def _generic(program, shapes, assume) -> bool:
    return any(generic_function(n) for n in topo_order([typed_program(program, shapes, assume).output]))


SUPPORTED = [pytest.param(*c[1:], id=c[0]) for c in CATALOGUE
             if not _unsupported(*c[1:4]) and not _generic(*c[1:4])]


_SOURCES: dict = {}


def generated(program, shapes, assume, wrt, target, verify=True) -> str:
    """``matcalc.codegen(..., target=target)``, once per program (the dtype tests share it)."""
    key = (program, tuple(sorted(shapes.items())), tuple(sorted(assume.items())), tuple(wrt), target, verify)
    if key not in _SOURCES:
        _SOURCES[key] = matcalc.codegen(program, wrt, shapes, assume, target=target, verify=verify)
    return _SOURCES[key]


def points(program, shapes, assume, wrt, seed=0):
    """One domain-aware random point: the inputs as NumPy arrays, by name."""
    typed = typed_program(program, shapes, assume)
    nodes, _ = resolve_wrt(typed, wrt, shapes)
    variables = dict(typed.variables)
    for n, v in zip(wrt, nodes):
        variables.setdefault(n, v)
    _, inputs = next(iter(sample_inputs(typed, variables, np.random.default_rng(seed), None, 1)))
    return inputs


def _tensor(torch, v, dtype, device="cpu", grad=False):
    t = torch.as_tensor(np.asarray(v, dtype=np.float64), dtype=dtype, device=device)
    return t.requires_grad_(grad)


@pytest.mark.filterwarnings("ignore:Input #")         # torch's warning that float32 gradchecks are loose
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("program,shapes,assume,wrt", SUPPORTED)
def test_torch_target_passes_torch_gradcheck(program, shapes, assume, wrt, dtype):
    torch = extra("torch")
    source = generated(program, shapes, assume, wrt, "torch")
    assert "Verified by matcalc" in source
    ns = load(source)
    inputs = points(program, shapes, assume, wrt)
    tdtype = getattr(torch, dtype)
    args = tuple(_tensor(torch, inputs[n], tdtype, grad=n in wrt) for n in ns["INPUTS"])
    tol = {} if dtype == "float64" else {"eps": 1e-3, "atol": 2e-2, "rtol": 2e-2}
    assert torch.autograd.gradcheck(ns["fn"], args, **tol)
    out = ns["fn"](*args)
    assert out.dtype == tdtype


@pytest.mark.parametrize("program,shapes,assume,wrt", SUPPORTED)
def test_torch_target_runs_on_the_meta_device(program, shapes, assume, wrt):
    torch = extra("torch")
    ns = load(generated(program, shapes, assume, wrt, "torch"))
    inputs = points(program, shapes, assume, wrt)
    args = [_tensor(torch, inputs[n], torch.float32, "meta", n in wrt) for n in ns["INPUTS"]]
    out = ns["fn"](*args)
    grads = torch.autograd.grad(out.sum(), [a for a, n in zip(args, ns["INPUTS"]) if n in wrt])
    assert out.device.type == "meta"
    for g, n in zip(grads, [n for n in ns["INPUTS"] if n in wrt]):
        assert g.device.type == "meta" and g.dtype == torch.float32 and g.shape == args[ns["INPUTS"].index(n)].shape


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("program,shapes,assume,wrt", SUPPORTED)
def test_jax_target_agrees_with_jax_grad_of_the_same_forward(program, shapes, assume, wrt, dtype):
    jax = extra("jax")
    source = generated(program, shapes, assume, wrt, "jax")
    assert "Verified by matcalc" in source
    ns = load(source)
    inputs = points(program, shapes, assume, wrt)
    names = ns["INPUTS"]
    argnums = tuple(i for i, n in enumerate(names) if n in wrt)
    with jax.enable_x64(dtype == "float64"):
        args = [jax.numpy.asarray(inputs[n], dtype=dtype) for n in names]

        def plain(*a):
            return jax.numpy.sum(ns["forward"](**dict(zip(names, a)))[0])

        ours = jax.jit(jax.grad(lambda *a: jax.numpy.sum(ns["fn"](*a)), argnums=argnums))(*args)
        theirs = jax.grad(plain, argnums=argnums)(*args)
        rtol = 1e-9 if dtype == "float64" else 2e-4
        for a, b in zip(ours, theirs):
            assert a.dtype == np.dtype(dtype)
            scale = max(float(np.max(np.abs(np.asarray(b)), initial=0.0)), 1e-6)
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=rtol * scale)


def test_generic_functions_need_the_numpy_target():
    with pytest.raises(UnsupportedError, match="NumPy target"):
        matcalc.codegen("sum(g(X))", "X", {"X": (2, 2)}, target="torch")


def test_torch_target_refuses_a_second_derivative():
    """The cache is made without a tape, so a derivative of the backward would be silently 0: it raises."""
    torch = extra("torch")
    ns = load(matcalc.codegen("s = u'*tanh(W*x + b)", "W,b", {"u": (3,), "W": (3, 4), "x": (4,), "b": (3,)},
                              target="torch"))
    args = [torch.randn(*{"u": (3,), "W": (3, 4), "x": (4,), "b": (3,)}[n], dtype=torch.float64)
            .requires_grad_(n in ("W", "b")) for n in ns["INPUTS"]]
    (gW, _) = torch.autograd.grad(ns["fn"](*args), [args[ns["INPUTS"].index("W")], args[ns["INPUTS"].index("b")]])
    assert gW.shape == (3, 4)
    with pytest.raises(RuntimeError, match="first order"):
        torch.autograd.grad(ns["fn"](*args), [args[ns["INPUTS"].index("W")]], create_graph=True)


def test_torch_target_refuses_grad_for_an_input_outside_wrt():
    torch = extra("torch")
    ns = load(matcalc.codegen("sum(W*x)", "W", {"W": (2, 3), "x": (3,)}, target="torch"))
    args = [torch.ones(*{"W": (2, 3), "x": (3,)}[n], dtype=torch.float64, requires_grad=True) for n in ns["INPUTS"]]
    with pytest.raises(ValueError, match="x requires grad"):
        ns["fn"](*args)


def test_jax_target_gives_nan_for_an_input_outside_wrt():
    jax = extra("jax")
    ns = load(matcalc.codegen("sum(W*x)", "W", {"W": (2, 3), "x": (3,)}, target="jax"))
    args = [jax.numpy.ones({"W": (2, 3), "x": (3,)}[n]) for n in ns["INPUTS"]]
    grads = jax.grad(ns["fn"], argnums=tuple(range(len(args))))(*args)
    by_name = dict(zip(ns["INPUTS"], grads))
    assert bool(jax.numpy.all(jax.numpy.isnan(by_name["x"]))) and not bool(jax.numpy.any(jax.numpy.isnan(by_name["W"])))
