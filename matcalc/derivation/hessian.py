"""Second derivatives: the Hessian of a scalar by a vector, mixed and by-matrix Hessians.

Forward over reverse: the gradient ``g = ∂s/∂x`` comes from reverse mode (``diff.gradients``),
its directional derivative ``dg = jvp(g, {y: T})`` is linear in a tangent ``T``, and the
Hessian is the coefficient read off that linear map:

    H = ∂²s/∂x∂yᵀ  with  dg = H T                 (x, y vectors: ``linear_coefficient``)
    vec(dg) = H vec(T)                               (matrices: Kronecker form, ``kronecker``)

A transpose of the tangent brings in the commutation matrix (the Hessian of ``tr(X X)`` is
``2 K₍ₙ,ₙ₎``).  Without a Kronecker form, the entries ``∂²s/∂xᵢⱼ∂yₖₗ`` are printed in index form
(``indexform``); when neither exists the JVP ``dg`` itself is kept (printed as a differential) and
the numbers come exactly from applying it to each basis matrix.  ``.numpy()`` returns the
``len(x) × len(y)`` matrix, or the 4-D array indexed ``x.shape + y.shape`` for matrices.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from matcalc.core import algebra as A
from matcalc.core.diff import gradients, jvp
from matcalc.core.errors import MatcalcError, ShapeError, UnsupportedError
from matcalc.core.graph import Node, topo_order
from matcalc.core.kinds import is_variable
from matcalc.derivation.derivation import Derivation, external_shape, tensor_of
from matcalc.derivation.verification import printed_forms, verified
from matcalc.language.program import Wrt, resolve_wrt, typed_program, wrt_names
from matcalc.numeric.evaluate import bind_dims, eval_node, evaluate, stable_value, to_internal, user_callable
from matcalc.numeric.finite_differences import (
    CheckReport,
    check_at_points,
    compare_directional,
    generic_functions,
    printed_nodes,
)
from matcalc.output.latexsteps import aligned
from matcalc.output.programs import program
from matcalc.output.render import Printer
from matcalc.output.steps import output_name
from matcalc.output.to_sympy import to_sympy
from matcalc.second_order.indexform import index_form, index_label, render_index
from matcalc.second_order.kronecker import MATRIX_FORM, VEC_FORM, commutation_legend, linear_map_form
from matcalc.simplify.rewrite import simplify_all

# Functions whose value is worth a name when a Hessian uses it twice (``p = softmax(x)``).
_PREFERRED_NAMES = {"softmax": "p", ("ew", "sigmoid"): "s", ("ew", "exp"): "e", ("ew", "tanh"): "h"}


class Hessian(Derivation):
    """∂²s/∂x∂yᵀ: ``results[key]`` is the Hessian matrix (vector variables), its vec/Kronecker
    form (matrix variables) or, failing both, the JVP of the gradient in a tangent."""

    forms: dict[str, str]            # key -> "matrix" | "vec" | "jvp"
    gradient_nodes: dict[str, Node]  # key -> ∂s/∂x (the gradient that was differentiated again)
    pairs: dict[str, tuple[str, str]]

    # ---------------------------------------------------------------- SymPy face
    @property
    def hessian(self):
        """The Hessian (or its vec form) as a SymPy matrix expression; a dict for several."""
        out = {k: to_sympy(r) for k, r in self.results.items() if self.forms[k] in (MATRIX_FORM, VEC_FORM)}
        return out.get(self.key) if len(self.results) == 1 else out

    @property
    def gradient(self):
        return None

    @property
    def jacobian(self):
        return self.hessian

    def jacobian_nodes(self) -> dict[str, Node]:
        return dict(self.results)

    @property
    def key(self) -> str:
        return next(iter(self.results))

    # ---------------------------------------------------------------- numbers
    def numpy(self, functions: dict | None = None) -> Callable:
        """A callable taking the inputs by keyword and returning the Hessian array."""
        def fn(**values):
            env = {}
            for name, v in self.typed.variables.items():
                if name not in values:
                    raise MatcalcError(f"missing input {name}")
                env[name] = to_internal(values[name], v.attrs[1])
            for name, v in self.variables.items():
                if name not in env:
                    if name not in values:
                        raise MatcalcError(f"missing input {name}")
                    env[name] = to_internal(values[name], v.attrs[1])
            outs = {k: self._value(k, env, functions) for k in self.results}
            return outs[self.key] if len(outs) == 1 else outs
        return user_callable(fn)

    def _value(self, key: str, env: dict, functions, node: Node | None = None) -> np.ndarray:
        """The Hessian for one (x, y) pair at internal values ``env``, shaped x.shape + y.shape
        (``node``: another node of the same form, e.g. the printed text parsed back)."""
        xn, yn = self.pairs[key]
        x, y = self.variables[xn], self.variables[yn]
        xs, ys = env[xn].shape, env[yn].shape
        shape = external_shape(xs, x, x.attrs[1]) + external_shape(ys, y, y.attrs[1])
        node, form = node if node is not None else self.results[key], self.forms[key]
        leaves = [v for v in {**self.typed.variables, **self.variables}.values()   # bind every dimension,
                  if v.attrs[0] in env]                # even ones node lacks (2 𝟏ᵀ𝟏 I: n from X)
        if form == "matrix":
            (val,) = _fast([node], env, functions, leaves)
            return np.broadcast_to(np.asarray(val, dtype=float), (xs[0] * xs[1], ys[0] * ys[1])).reshape(shape)
        live = [v for v in list(self.typed.variables.values()) + leaves if env.get(v.attrs[0]) is not None]
        closed = node if form == VEC_FORM else self.closed.get(key)
        return tensor_of(form, closed, node, self.tangents.get(key), self.gradient_nodes[key], y, env, functions,
                         live, _fast).reshape(shape)

    def verify(self, seed: int = 0, functions: dict | None = None, points: int = 2,
               printed: bool = True) -> CheckReport:
        """Compare H·V with central finite differences of the gradient along V: the graph and
        (``printed``) the printed ``.text()`` parsed back and evaluated."""
        rng = np.random.default_rng(seed)
        roots = [self.typed.output] + list(self.gradient_nodes.values())
        functions = generic_functions(roots + list(self.results.values()), functions)
        variables = dict(self.typed.variables)
        variables.update(self.variables)
        leaves = list(variables.values())
        got = printed_forms(lambda: self._printed_hessians()) if printed else ({}, [])
        if isinstance(got, CheckReport):
            return got
        shown, unverified = got

        def errors_at(env):
            errors: dict[str, float] = {}
            for key, (_, yn) in self.pairs.items():
                g = self.gradient_nodes[key]
                H = self._value(key, env, functions)
                y = self.variables[yn]
                ny = len(external_shape(env[yn].shape, y, y.attrs[1]))

                def f(e, g=g):
                    return evaluate([g, *leaves], e, functions)[0]

                def along(Hm, V, ny=ny):
                    if ny == 0:
                        return Hm * float(V.reshape(()))
                    return np.tensordot(Hm, V.reshape(Hm.shape[Hm.ndim - ny:]), axes=ny)
                candidates = {key: (yn, lambda V, H=H: along(H, V))}
                if key in shown:
                    try:
                        P = self._value(key, env, functions, shown[key])
                    except ValueError:       # a printed Hessian of the wrong shape is a mismatch
                        P = np.full(np.shape(H), np.nan)
                    candidates[f"{key} (printed text)"] = (yn, lambda V, P=P: along(P, V))
                errors.update(compare_directional(f, candidates, env, rng))
            return errors
        report = check_at_points(roots, variables, rng, functions, points, errors_at,
                                 "Hessian disagrees with finite differences of the gradient")
        report.unverified = unverified
        return report

    def parse_back(self) -> None:
        self._printed_hessians()

    def _printed_hessians(self) -> tuple[dict[str, Node], list[str]]:
        """key -> the printed text's node for each matrix/vec block, parsed back; and a note for
        the forms with no parseable text (index form, differential)."""
        other = [k for k in self.results if self.forms[k] not in (MATRIX_FORM, VEC_FORM)]
        if other:
            return {}, [(f"the printed Hessian of {', '.join(other)} ({', '.join(self.forms[k] for k in other)} form) "
                        "has no parseable text form: only the graph behind it was verified")]
        o = self.output_name
        labels = {k: f"d2{o}_d{k.replace(',', '_d')}" for k in self.results}
        return printed_nodes(self.render("text"), self.variables_all(), labels), []

    # ---------------------------------------------------------------- printing
    def _names(self, roots: list[Node], style_taken=None) -> dict[Node, str]:
        names = super()._names(roots)
        taken = set(self.typed.variables) | set(self.typed.intermediates) | set(names.values())
        uses: dict[Node, int] = {}
        for node in topo_order(roots):
            for a in node.args:
                uses[a] = uses.get(a, 0) + 1
        for node in topo_order(roots):
            want = _PREFERRED_NAMES.get(node.op) or _PREFERRED_NAMES.get((node.op, node.attrs[0] if node.attrs else None))
            fresh = node not in names or names[node] not in self.typed.intermediates and \
                names[node][:1] == "t" and names[node][1:].isdigit()
            if want and fresh and uses.get(node, 0) >= 2 and want not in taken:
                names[node] = want
                taken.add(want)
        return names

    def render(self, style: str = "unicode", form: str = "hessian") -> str:
        indexed = {k for k in self.results if self.forms[k] == "index"}
        roots = []
        for k, r in self.results.items():
            roots += self.closed[k].nodes() if k in indexed else [r]
        names = self._names(roots)
        defs, _ = program(roots, style, names)
        printer = Printer(style, names)
        texts = [render_index(self.closed[k], printer, style) if k in indexed else printer(r)
                 for k, r in self.results.items()]
        lines = [f"{n} = {t}" for n, t in defs]
        if style == "text" and not indexed:
            if len(texts) == 1:
                lines.append(texts[0])
                return "; ".join(lines)
            lines += [f"d2{self.output_name}_d{k.replace(',', '_d')} = {t}" for k, t in zip(self.results, texts)]
            return "\n".join(lines)
        for k, t in zip(self.results, texts):
            lines.append(f"{self.label(k, style)} = {t}")
        if style != "text":
            lines += commutation_legend([r for k, r in self.results.items() if self.forms[k] == VEC_FORM],
                                        self.variables, style)
        return aligned(lines) if style == "latex" else "\n".join(lines)

    def label(self, key: str, style: str = "unicode") -> str:
        o = self.output_name
        xn, yn = self.pairs[key]
        form = self.forms[key]
        if form == "index":
            pl = Printer(style)
            return index_label(o, f"{pl.var_name(xn)},{pl.var_name(yn)}", self.closed[key], style, second=True)
        if style == "latex":
            pl = Printer("latex")
            x, y, o = pl.var_name(xn), pl.var_name(yn), pl.var_name(o)
            if form == VEC_FORM:
                x, y = rf"\operatorname{{vec}}({x})", rf"\operatorname{{vec}}({y})"
            if form == "jvp":
                return rf"d\left(\frac{{\partial {o}}}{{\partial {x}}}\right)"
            den = rf"\partial {x}^2" if xn == yn and form != VEC_FORM and self.variables[xn].is_scalar else \
                rf"\partial {x} \, \partial {y}^\top"
            return rf"\frac{{\partial^2 {o}}}{{{den}}}"
        if form == "jvp":
            return f"d(∂{o}/∂{xn})"
        if form == VEC_FORM:
            return f"∂²{o}/∂vec({xn})∂vec({yn})ᵀ"
        if self.variables[xn].is_scalar and self.variables[yn].is_scalar:
            return f"∂²{o}/∂{xn}²" if xn == yn else f"∂²{o}/∂{xn}∂{yn}"
        return f"∂²{o}/∂{xn}∂{yn}ᵀ"


class _Diag:
    """diag(v) not materialised: a matrix product with it is a row or column scaling."""

    __slots__ = ("v",)

    def __init__(self, v):
        self.v = np.asarray(v).reshape(-1)

    def dense(self):
        return np.diag(self.v)


def _fast(roots: list[Node], env: dict, functions=None, leaves=()) -> list:
    """fast_evaluate with numeric.evaluate's signature (``leaves`` bind dimensions)."""
    return fast_evaluate(list(roots) + list(leaves), env, functions)[:len(roots)]


def fast_evaluate(roots: list[Node], env: dict, functions=None) -> list:
    """numeric.evaluate, except that diag(v) A and A diag(v) scale rows and columns (O(n²), not O(n³))."""
    order = topo_order(roots)
    dims = bind_dims([n for n in order if is_variable(n)], env)
    val: dict[int, object] = {}
    for node in order:
        args = [val[id(a)] for a in node.args]
        if node.op == "diag" and node.args[0].is_column:
            val[id(node)] = _Diag(args[0])
        elif node.op == "matmul" and any(isinstance(a, _Diag) for a in args):
            a, b = args
            if isinstance(a, _Diag) and isinstance(b, _Diag):
                val[id(node)] = _Diag(a.v * b.v)
            elif isinstance(a, _Diag):
                val[id(node)] = a.v[:, None] * b
            else:
                val[id(node)] = a * b.v[None, :]
        elif (stable := stable_value(node, val)) is not None:       # log σ(z), 1 − σ(z), ... (numeric.py)
            val[id(node)] = stable
        else:
            args = [a.dense() if isinstance(a, _Diag) else a for a in args]
            val[id(node)] = eval_node(node, args, env, dims, functions)
    return [val[id(r)].dense() if isinstance(val[id(r)], _Diag) else val[id(r)] for r in roots]


def _pairs(names: list[str]) -> list[tuple[str, str]]:
    if len(names) == 1:
        return [(names[0], names[0])]
    if len(names) == 2:
        return [(names[0], names[1])]
    raise MatcalcError("a Hessian is by one variable (--wrt x) or a mixed pair (--wrt x,y)")


def hessian(expr: str, wrt: Wrt, shapes: dict | None = None, assume: dict | None = None,
            verify: bool = True) -> Hessian:
    """∂²s/∂x∂yᵀ of a scalar program: ``wrt="x"`` (the Hessian) or ``wrt="x,y"`` (mixed).

    ``verify`` (the default): the graph and the printed text are checked against central
    differences of the gradient at small sizes before returning (``api.verified``).

    >>> print(hessian("x'*A*x", "x"))
    ∂²f/∂x∂xᵀ = A + Aᵀ
    """
    h = _hessian(expr, wrt, shapes, assume)
    if verify:
        verified(h, lambda small: _hessian(expr, wrt, small, assume), shapes)
    return h


def _hessian(expr: str, wrt: Wrt, shapes: dict | None, assume: dict | None) -> Hessian:
    """hessian without the verification."""
    names = wrt_names(wrt)
    pairs = _pairs(names)
    typed = typed_program(expr, shapes, assume)
    nodes, notes = resolve_wrt(typed, names, shapes)
    variables = dict(zip(names, nodes))
    out = typed.output
    if not out.is_scalar:
        raise ShapeError("a Hessian needs a scalar output; use derive for a Jacobian or a 4-D derivative")
    results, forms, grads, tangents, pair_of, closed = {}, {}, {}, {}, {}, {}
    for xn, yn in pairs:
        key = xn if xn == yn else f"{xn},{yn}"
        x, y = variables[xn], variables[yn]
        (g,) = simplify_all([gradients(out, [x])[x]])
        T = A.var("∂" + yn, y.shape, y.attrs[1])
        (dg,) = simplify_all([jvp(g, {y: T})])
        form, node = linear_map_form(dg, T)
        if form == "jvp" and not (x.is_scalar and y.is_scalar):  # no closed form: entries ∂²s/∂xᵢⱼ∂yₖₗ
            try:
                closed[key], form = index_form(dg, T), "index"
            except UnsupportedError:
                pass
        results[key], forms[key], grads[key], tangents[key], pair_of[key] = node, form, g, T, (xn, yn)
    h = Hessian(expr, typed, names, "hessian", results, variables, typed.notes + notes, [], tangents,
                output_name(typed))
    h.forms, h.gradient_nodes, h.pairs, h.closed = forms, grads, pair_of, closed
    return h
