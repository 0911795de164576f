"""The public face: ``derive`` returns a ``Derivation`` that prints, converts and evaluates.

A Derivation keeps the typed program, the derived graph per variable (simplified, never
printed unchecked by the CLI) and knows its layout: ``gradient`` (shape convention, a scalar
output), ``jacobian`` (a vector output by a vector) or ``tensor`` (matrix by matrix, 4-D).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from matcalc.core import algebra as A
from matcalc.core.diff import Step, column_of, gradients, jvp, linear_coefficient
from matcalc.core.errors import MatcalcError, UnsupportedError
from matcalc.core.graph import Node
from matcalc.core.kinds import is_variable
from matcalc.derivation.verification import printed_forms, printed_value, verified
from matcalc.language.program import Wrt, resolve_wrt, typed_program, wrt_names
from matcalc.language.shapes import Typed
from matcalc.numeric.evaluate import bind_dims, concrete, evaluate, to_external, to_internal, user_callable
from matcalc.numeric.finite_differences import (
    CheckReport,
    check_at_points,
    compare_directional,
    generic_functions,
    printed_nodes,
)
from matcalc.output.explain import explain
from matcalc.output.latexsteps import aligned
from matcalc.output.notebook import Picture, StepList
from matcalc.output.picture import graph_model
from matcalc.output.programs import auto_names, program
from matcalc.output.render import Printer
from matcalc.output.steps import output_name
from matcalc.output.to_sympy import to_sympy
from matcalc.second_order.index_steps import explain_index
from matcalc.second_order.kronecker import VEC_FORM, closed_form, render_tensor, vec_to_tensor
from matcalc.second_order.tensor_steps import explain_tensor
from matcalc.simplify.rewrite import simplify_all


@dataclass
class Derivation:
    """The derivative of a program by one or more variables, with its printing and numbers."""

    expr: str
    typed: Typed
    wrt: list[str]
    kind: str                                    # gradient | jacobian | tensor
    results: dict[str, Node]                     # name -> derived node (gradient/Jacobian/JVP)
    variables: dict[str, Node]
    notes: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    tangents: dict[str, Node] = field(default_factory=dict)
    output_name: str = "f"
    forms: dict[str, str] = field(default_factory=dict)       # tensor kind: name -> vec | index | jvp
    closed: dict[str, object] = field(default_factory=dict)   # name -> vec form (Node) or IndexForm
    check: CheckReport | None = None                          # the verification report (verify=True)

    def __post_init__(self) -> None:
        # still a list of the recorded steps; it prints and displays (Jupyter) as the explained steps
        self.steps = StepList(self.steps, self)

    # ---------------------------------------------------------------- SymPy face
    @property
    def gradient(self):
        """The gradient (shape convention) as a SymPy matrix expression; a dict for several wrt."""
        if self.kind != "gradient":
            return None
        return self._sympy({n: r for n, r in self.results.items()})

    @property
    def jacobian(self):
        """The Jacobian form (numerator layout) as a SymPy matrix expression; for a matrix by a
        matrix, ∂vec(F)/∂vec(X)ᵀ where it has a Kronecker form, else the differential."""
        nodes = self.jacobian_nodes()
        if self.kind == "tensor":
            nodes = {n: self.closed[n] if self.forms.get(n) == VEC_FORM else r for n, r in nodes.items()}
        return self._sympy(nodes)

    def jacobian_nodes(self) -> dict[str, Node]:
        if self.kind == "gradient":
            return dict(zip(self.results, simplify_all([A.transpose(r) for r in self.results.values()])))
        return dict(self.results)

    def _sympy(self, nodes: dict[str, Node]):
        out = {n: to_sympy(r) for n, r in nodes.items()}
        return out[self.wrt[0]] if len(self.wrt) == 1 else out

    # ---------------------------------------------------------------- numbers
    def numpy(self, functions: dict | None = None) -> Callable:
        """A callable taking the inputs as NumPy arrays by keyword and returning the derivative
        (a dict by variable name when there are several)."""
        inputs = dict(self.typed.variables)
        results = dict(self.results)

        def fn(**values):
            env = {}
            for name, v in inputs.items():
                if name not in values:
                    raise MatcalcError(f"missing input {name}")
                env[name] = to_internal(values[name], v.attrs[1])
            outs = {}
            for name, node in results.items():
                var = self.variables[name]
                if var.attrs[0] not in env:
                    env[var.attrs[0]] = to_internal(values[name], var.attrs[1]) if name in values else None
                outs[name] = self._evaluate(name, node, env, functions)
            return outs[self.wrt[0]] if len(self.wrt) == 1 else outs
        return user_callable(fn)

    def _leaves(self) -> list[Node]:
        """Every input leaf: a derivative may hold a size only another input fixes (𝟏ₙ in ∂/∂b)."""
        return list({id(v): v for v in [*self.typed.variables.values(), *self.variables.values()]}.values())

    def _evaluate(self, name: str, node: Node, env: dict, functions):
        var = self.variables[name]
        if self.kind == "gradient":
            (val,) = evaluate([node], env, functions, leaves=self._leaves())
            if val.shape != env[name].shape:
                val = np.broadcast_to(val, env[name].shape)
            return to_external(val, var.attrs[1])
        if self.kind == "jacobian":
            (val,) = evaluate([node], env, functions, leaves=self._leaves())
            val = np.asarray(val, dtype=float)
            if var.is_scalar:                        # the output's shape, vectors (rows too) 1-D
                out = self.typed.output
                dims = bind_dims(self._leaves(), env)
                val = np.broadcast_to(val, (concrete(out.rows, dims), concrete(out.cols, dims)))
                return val.reshape(-1) if out.is_column or out.is_row else np.array(val)
            return val
        return self._tensor(name, node, env, functions)

    def _tensor(self, name, dY: Node, env: dict, functions):
        """d out[i,j] / d X[k,l] in LANGUAGE.md's shapes (vectors 1-D, scalars dropped)."""
        result = self.tensor4(name, env, functions)
        out_nd = self.typed.output.attrs[1] if is_variable(self.typed.output) else None
        var_nd = self.variables[name].attrs[1]
        shape = (external_shape(result.shape[:2], self.typed.output, out_nd)
                 + external_shape(result.shape[2:], self.variables[name], var_nd))
        return result.reshape(shape)

    def tensor4(self, name: str, env: dict, functions) -> np.ndarray:
        """d out[i,j] / d X[k,l] as a 4-D array of the internal 2-D shapes, from the printed form:
        the vec/Kronecker matrix, the index form, or the differential applied to each basis matrix."""
        leaves = [v for v in list(self.typed.variables.values()) + list(self.variables.values())
                  if env.get(v.attrs[0]) is not None]
        form = self.forms.get(name, "jvp")
        return tensor_of(form, self.closed.get(name), self.results[name], self.tangents[name],
                         self.typed.output, self.variables[name], env, functions, leaves)

    def verify(self, seed: int = 0, functions: dict | None = None, points: int = 2,
               printed: bool = True) -> CheckReport:
        """Compare with central finite differences at random points inside the domain: the
        graph behind the result and (``printed``) the printed ``.text()`` parsed back and
        evaluated, so what is shown is what was checked.  Seeded: the same answer every run."""
        rng = np.random.default_rng(seed)
        roots = [self.typed.output] + (list(self.results.values()) if self.kind != "tensor" else [])
        functions = generic_functions([self.typed.output] + list(self.results.values()), functions)
        variables = dict(self.typed.variables)
        for name in self.wrt:
            variables.setdefault(name, self.variables[name])
        got = printed_forms(lambda: self._printed_forms(functions)) if printed else ({}, [])
        if isinstance(got, CheckReport):
            return got
        shown, unverified = got

        def f(e):
            return evaluate([self.typed.output], e, functions, leaves=variables.values())[0]

        def along_value(d, V):
            if self.kind == "gradient":
                return np.sum(d * V)
            if self.kind == "jacobian" and np.size(V) == 1:      # by a scalar: d has the output's shape
                return np.asarray(d) * float(np.asarray(V).reshape(-1)[0])
            if self.kind == "jacobian":
                return d @ V.reshape(-1, 1)
            return np.tensordot(d, V, axes=2)

        def errors_at(env):
            candidates = {}
            for name in self.wrt:
                d = self._raw(name, env, functions)
                candidates[name] = (name, lambda V, d=d: along_value(d, V))
                for label, (var, value_of) in shown.items():
                    if var == name:
                        p = value_of(env, d)
                        candidates[label] = (name, lambda V, p=p: along_value(p, V))
            return compare_directional(f, candidates, env, rng)
        report = check_at_points(roots, variables, rng, functions, points, errors_at,
                                 "derivative disagrees with finite differences")
        report.unverified = unverified
        return report

    def _printed_forms(self, functions) -> tuple[dict, list[str]]:
        """label -> (variable, value_of(env, graph value)) for each printed text form, parsed back
        by matcalc's own parser; and what has no parseable text form (said in a note)."""
        leaves = list(self.typed.variables.values()) + list(self.variables.values())
        o = self.output_name
        if self.kind == "tensor":
            if any(self.forms.get(w) != VEC_FORM for w in self.wrt):
                others = [f"{w} ({self.forms.get(w, 'jvp')} form)" for w in self.wrt if self.forms.get(w) != VEC_FORM]
                return {}, [(f"the printed form of {', '.join(others)} has no parseable text form: "
                            "only the graph behind it was verified")]
            nodes = printed_nodes(self.render("text"), self.variables_all(), {w: f"d{o}_d{w}" for w in self.wrt})
            return {f"{w} (printed text)": (w, self._tensor_value(w, nodes[w], functions, leaves))
                    for w in self.wrt}, []
        forms = ["gradient", "jacobian"] if self.kind == "gradient" else ["jacobian"]
        out = {}
        for form in forms:
            nodes = printed_nodes(self.render("text", form), self.variables_all(),
                                  {w: f"d{o}_d{w}" for w in self.wrt})
            transpose = self.kind == "gradient" and form == "jacobian"
            suffix = " (printed text, Jacobian form)" if transpose else " (printed text)"
            for w in self.wrt:
                out[w + suffix] = (w, printed_value(nodes[w], functions, leaves, transpose))
        return out, []

    def parse_back(self) -> None:
        """Parse the printed text forms back (no numbers): raises MatcalcError if one does not."""
        self._printed_forms(None)

    def variables_all(self) -> dict[str, Node]:
        """The program's variables and the ones differentiated by (declared, unused ones too)."""
        out = dict(self.typed.variables)
        for name, v in self.variables.items():
            out.setdefault(name, v)
        return out

    def _tensor_value(self, name, node, functions, leaves):
        def value_of(env, graph_value):
            live = [v for v in leaves if env.get(v.attrs[0]) is not None]
            return tensor_of(VEC_FORM, node, None, None, self.typed.output, self.variables[name], env, functions, live)
        return value_of

    def _raw(self, name, env, functions):
        node = self.results[name]
        if self.kind == "gradient":
            (val,) = evaluate([node], env, functions, leaves=self._leaves())
            return np.broadcast_to(val, env[name].shape)
        if self.kind == "jacobian":
            return evaluate([node], env, functions, leaves=self._leaves())[0]
        return self.tensor4(name, env, functions)

    # ---------------------------------------------------------------- printing
    def _names(self, roots: list[Node], style_taken=None) -> dict[Node, str]:
        """Names for the printed program, keyed by node (the simplified intermediates are
        temporaries: keyed by id, a dead one's id could name an unrelated node)."""
        inter = self.typed.intermediates
        simplified = simplify_all(list(inter.values())) if inter else []
        given = {node: name for name, node in zip(inter, simplified)}
        given.update({node: name for name, node in inter.items()})
        taken = set(self.typed.variables) | set(inter)
        return auto_names(roots, given, taken)

    def render(self, style: str = "unicode", form: str = "gradient") -> str:
        """The derivation as text: definitions of intermediates it uses, then one line per variable."""
        if self.kind == "tensor":                    # vec/Kronecker form, index form or differential
            text = render_tensor(self, style)
            return aligned(text.split("\n")) if style == "latex" else text
        nodes = self.results if form == "gradient" and self.kind == "gradient" else self.jacobian_nodes()
        roots = list(nodes.values())
        names = self._names(roots)
        defs, texts = program(roots, style, names, renumber=True)
        lines = []
        if style == "text":
            lines += [f"{n} = {t}" for n, t in defs]
            if len(texts) == 1:
                lines.append(texts[0])
            else:
                lines += [f"d{self.output_name}_d{w} = {t}" for w, t in zip(nodes, texts)]
            return "; ".join(lines) if len(lines) > 1 and len(texts) == 1 else "\n".join(lines)
        for n, t in defs:
            lines.append(f"{n} = {t}")
        for w, t in zip(nodes, texts):
            lines.append(f"{self.label(w, style)} = {t}")
        return aligned(lines) if style == "latex" else "\n".join(lines)

    def label(self, w: str, style: str = "unicode") -> str:
        o = self.output_name
        if style == "latex":
            return rf"\frac{{\partial {Printer('latex').var_name(o)}}}{{\partial {Printer('latex').var_name(w)}}}"
        return f"∂{o}/∂{w}"

    def text(self) -> str:
        """ASCII matcalc syntax that parses back to the same function (a program if it needs names)."""
        return self.render("text")

    def latex(self) -> str:
        return self.render("latex")

    def __str__(self) -> str:
        return self.render("unicode")

    def __repr__(self) -> str:
        """What a terminal REPL shows: the question and the printed result, not the dataclass
        fields (a screenful of graph nodes)."""
        wrt = self.wrt if isinstance(self.wrt, str) else ", ".join(self.wrt)
        return f"<{type(self).__name__} of {self.expr!r} by {wrt}>\n{self.render('unicode')}"

    def steps_text(self, style: str = "unicode", index: bool = False) -> str:
        """The chain-rule steps (derive with ``steps=True``): unicode, text, latex, markdown or json;
        ``index``: in index notation (per-entry partials, the sum, the Kronecker delta collapsing it).
        A 4-D derivative (a matrix on either side) gets the Jacobian chain in vec form."""
        if index:
            return explain_index(self, style)
        if self.kind == "tensor" or (self.kind == "jacobian" and not _vector_or_scalar(self.typed.output)):
            return explain_tensor(self, style)
        if self.kind == "jacobian":
            try:
                return explain(self, style)
            except UnsupportedError:             # a matrix on the way (x xᵀ): its Jacobian is read in vec form
                return explain_tensor(self, style)
        return explain(self, style)

    def graph(self, at: dict | None = None, precision: int = 3) -> Picture:
        """The computational graph as a picture (inline SVG in Jupyter); with ``at`` (user values,
        indices from 1, as ``--at``) every edge carries its forward value (green, above) and the
        gradient that flowed back along it (red, below)."""
        d = self
        if self.kind == "gradient" and not self.steps:        # values need the recorded steps
            recorded: list[Step] = []
            gradients(self.typed.output, [self.variables[w] for w in self.wrt], recorded)
            d = replace(self, steps=recorded)
        if at is not None and d.kind != "gradient":
            raise MatcalcError("values on the picture need a scalar output")
        return Picture(graph_model(self.typed, d if d.kind == "gradient" else None, at, precision))

    def _repr_latex_(self) -> str:
        """Jupyter: the result as display math (several lines: one ``aligned`` block)."""
        body = self.latex()
        if not body.startswith(r"\begin{aligned}"):
            body = "\\begin{aligned}" + body.replace(" = ", " &= ", 1) + "\\end{aligned}"
        return f"$${body}$$"


def _vector_or_scalar(n: Node) -> bool:
    return n.is_column or n.is_row or n.is_scalar


def external_shape(shape, node: Node, ndim) -> tuple:
    """A derivative's 2-D internal shape as the user sees it: vectors 1-D, scalars dropped."""
    nd = ndim if ndim is not None else (0 if node.is_scalar else 1 if node.is_column else 2)
    if nd == 0:
        return ()
    if nd == 1:
        return (shape[0] * shape[1],)
    return tuple(shape)


def derive(expr: str, wrt: Wrt, shapes: dict | None = None, assume: dict | None = None,
           steps: bool = False, verify: bool = True) -> Derivation:
    """Differentiate ``expr`` by ``wrt``: a gradient for a scalar output, else a Jacobian/4-D tensor.

    ``verify`` (the default) checks the result before returning it: the graph and the printed
    ``.text()`` parsed back, against central finite differences at small concrete sizes
    (``verified``); a mismatch raises ``VerificationError``.  ``.check`` is the report.

    >>> print(derive("norm(W*x)^2", "W"))
    ∂f/∂W = 2 W x xᵀ
    """
    d = _derive(expr, wrt, shapes, assume, steps)
    if verify:
        verified(d, lambda small: _derive(expr, wrt, small, assume, False), shapes)
    return d


def _derive(expr: str, wrt: Wrt, shapes: dict | None, assume: dict | None, steps: bool) -> Derivation:
    """derive without the verification."""
    names = wrt_names(wrt)
    typed = typed_program(expr, shapes, assume)
    nodes, notes = resolve_wrt(typed, names, shapes)
    notes = typed.notes + notes
    out = typed.output
    variables = dict(zip(names, nodes))
    recorded: list[Step] = []
    tangents: dict[str, Node] = {}
    if out.is_scalar:
        kind = "gradient"
        grads = gradients(out, nodes, recorded if steps else None)
        results = dict(zip(names, simplify_all([grads[v] for v in nodes])))
    elif all(v.is_scalar for v in nodes) or ((out.is_column or out.is_row) and
                                                all(v.is_column or v.is_scalar for v in nodes)):
        kind = "jacobian"
        raw = []
        for v in nodes:
            if v.is_scalar:                          # by a scalar: the output's shape (a row stays a row)
                raw.append(jvp(out, {v: A.const(1)}))
                continue
            T = A.var("∂" + v.attrs[0], v.shape, v.attrs[1])
            raw.append(linear_coefficient(jvp(column_of(out), {v: T}), T))
        results = dict(zip(names, simplify_all(raw)))
    else:
        kind = "tensor"
        raw = []
        for v in nodes:
            T = A.var("∂" + v.attrs[0], v.shape, v.attrs[1])
            tangents[v.attrs[0]] = T
            raw.append(jvp(out, {v: T}))
        results = dict(zip(names, simplify_all(raw)))
    forms, closed = {}, {}
    if kind == "tensor":
        for name in names:
            forms[name], closed[name] = closed_form(results[name], tangents[name])
    return Derivation(expr, typed, names, kind, results, variables, notes, recorded, tangents, output_name(typed),
                      forms, closed)


def tensor_of(form: str, closed, dY: Node, T: Node, out: Node, var: Node, env: dict, functions,
              leaves: list[Node], evaluate=evaluate) -> np.ndarray:
    """The 4-D array d out[i,j] / d var[k,l] (internal 2-D shapes) at ``env`` from a closed form
    (``vec``: a vec/Kronecker matrix; ``index``: an IndexForm) or, for ``jvp``, exactly from the
    linear map ``dY`` of the tangent ``T`` applied to each basis matrix.  ``evaluate`` is
    ``numeric.evaluate`` or one with its signature (the Hessian's diagonal-aware one)."""
    dims = bind_dims(leaves, env)
    out_shape = (concrete(out.rows, dims), concrete(out.cols, dims))
    var_shape = (concrete(var.rows, dims), concrete(var.cols, dims))
    if form == VEC_FORM:
        (M,) = evaluate([closed], env, functions, leaves=leaves)
        M = np.broadcast_to(np.asarray(M, dtype=float), (out_shape[0] * out_shape[1], var_shape[0] * var_shape[1]))
        return vec_to_tensor(M, out_shape, var_shape)
    if form == "index":
        nodes = closed.nodes()
        vals = evaluate(nodes, env, functions, leaves=leaves) if nodes else []
        return closed.evaluate({id(n): v for n, v in zip(nodes, vals)}, lambda d: concrete(d, dims))
    result = np.zeros(out_shape + var_shape)
    base = dict(env)
    for k in range(var_shape[0]):
        for l_ in range(var_shape[1]):
            E = np.zeros(var_shape)
            E[k, l_] = 1.0
            base[T.attrs[0]] = E
            (val,) = evaluate([dY], base, functions, leaves=leaves)
            result[:, :, k, l_] = np.broadcast_to(val, out_shape)
    return result
