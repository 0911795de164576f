"""matcalc's public face: every function a user calls, each verifying what it returns.

``derive`` and ``hessian`` check their printed text and graph against central differences;
``codegen`` and ``codegen_hessian`` gradcheck the generated module at small sizes before
returning it; ``check`` grades against a verified expectation.  ``verify=False`` opts out.
The CLI (``matcalc.cli``) is a thin layer over these functions.
"""
from __future__ import annotations

from matcalc.core.errors import MatcalcError
from matcalc.derivation.derivation import Derivation, derive
from matcalc.derivation.hessian import Hessian, hessian
from matcalc.generate.gradcheck import GradcheckReport, gradcheck_gradients
from matcalc.generate.gradcheck_hessian import gradcheck_hessian
from matcalc.generate.hessian_program import codegen_hessian_source
from matcalc.generate.program import codegen_source, normalize_dtype
from matcalc.generate.verify import verify_generated
from matcalc.generate.verify_target import verify_target
from matcalc.grading.check import Verdict, check
from matcalc.language.program import Wrt, typed_program, wrt_names
from matcalc.output.picture import Model
from matcalc.output.picture import graph_model as _graph_model

__all__ = ["Derivation", "GradcheckReport", "Hessian", "MatcalcError", "Verdict", "check", "codegen",
           "codegen_hessian", "derive", "gradcheck", "graph_model", "hessian", "wrt_names"]


def codegen(expr: str, wrt: Wrt, shapes: dict | None = None, assume: dict | None = None,
            dtype: str | None = None, verify: bool = True, target: str = "numpy") -> str:
    """Python source of a module with ``forward(**inputs) -> (output, cache)`` and
    ``backward(cache, upstream=1.0) -> {name: gradient}`` for ``expr`` by ``wrt``.

    ``target``: ``"numpy"`` (the default), ``"torch"`` (torch operations plus a
    ``torch.autograd.Function``, ``fn = Function.apply``) or ``"jax"`` (``jax.numpy`` plus a
    ``jax.custom_vjp`` function ``fn``); torch and JAX modules also hold ``INPUTS``, the order
    ``fn`` takes its inputs in.  ``verify`` (the default): the module is gradchecked at small
    concrete sizes before it is returned (torch and JAX modules through ``fn`` by their own
    framework, when it is installed): a mismatch raises ``VerificationError``, and the module's
    docstring says how it was checked or why the check was skipped."""
    source = codegen_source(expr, wrt, shapes, assume, dtype, target)
    if not verify:
        return source
    if target != "numpy":
        return verify_target(source, codegen_source, expr, wrt_names(wrt), shapes, assume, normalize_dtype(dtype),
                             target)
    return verify_generated(source, codegen_source, expr, wrt_names(wrt), shapes, assume, normalize_dtype(dtype))


def codegen_hessian(expr: str, wrt: Wrt, shapes: dict | None = None, assume: dict | None = None,
                    dtype: str | None = None, verify: bool = True) -> str:
    """Python source of the first-order module of ``expr`` by ``wrt`` plus ``hessian(**inputs)``
    (the Hessian array; a dict of blocks for several variables) and ``hvp(cache, v)`` (H v).
    ``verify`` as for ``codegen``: gradients, Hessians and H v checked before it is returned."""
    source = codegen_hessian_source(expr, wrt, shapes, assume, dtype)
    if not verify:
        return source
    return verify_generated(source, codegen_hessian_source, expr, wrt_names(wrt), shapes, assume,
                            normalize_dtype(dtype), hessian=True)


def gradcheck(expr: str, wrt: Wrt, shapes: dict | None = None, assume: dict | None = None,
              dtype: str | None = None, functions: dict | None = None, seed: int = 0,
              h: float = 1e-5, tol: float | None = None, points: int = 2, hessian: bool = False,
              source: str | None = None) -> GradcheckReport:
    """Check the generated backward() of ``expr`` by ``wrt`` against central differences;
    ``hessian=True``: the second-order module's backward(), hessian() and hvp() as well."""
    check_module = gradcheck_hessian if hessian else gradcheck_gradients
    return check_module(expr, wrt, shapes, assume, dtype, functions, seed, h, tol, points, source)


def graph_model(expr: str, wrt: Wrt | None = None, shapes: dict | None = None, assume: dict | None = None,
                at: dict | None = None, precision: int = 3) -> Model:
    """The computational graph of ``expr`` as nodes and edges (``matcalc graph`` draws it); with
    ``at`` every edge carries its forward value and the gradient that flowed back along it."""
    typed = typed_program(expr, shapes, assume)
    names = list(typed.variables) if wrt is None else wrt_names(wrt)
    d = None
    if typed.output.is_scalar and names:
        d = derive(expr, names, shapes=shapes, assume=assume, steps=True)
    if at is not None and d is None:
        raise MatcalcError("values on the picture need a scalar output")
    return _graph_model(typed, d, at, precision)

