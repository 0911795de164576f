"""The differential oracle: every public face of matcalc against central differences of the
independent evaluator, for one generated program and one variable.

Parts: ``numpy`` (``derive(...).numpy()``), ``text`` (``.text()`` parsed back by matcalc's own
parser and evaluated), ``codegen`` (the generated module's ``backward``), ``check`` (its own text
graded correct; doubled and transposed graded wrong where they differ numerically).

Outcomes, worst first: ``silent`` (a wrong number, formula or verdict with no error),
``internal`` (exit-3 error or any non-matcalc exception), ``unsupported`` (a clean
UnsupportedError on a well-typed v1 program: a lesser finding), ``clean`` (another exit-2
MatcalcError: recorded with its message), ``ok``.
"""
from __future__ import annotations

import inspect
import re
import traceback

import numpy as np

import matcalc
from matcalc.core.errors import MatcalcError, UnsupportedError

from .evaluator import GENERIC_FUNCTIONS, evaluate, external
from .generator import SCALAR, Program, _shape2

PARTS = ("numpy", "text", "codegen", "check")
OUTCOMES = ("ok", "clean", "unsupported", "silent", "internal")
STEP = 1e-5
RTOL = 1e-4


def _kw(fn) -> dict:
    return {"verify": False} if "verify" in inspect.signature(fn).parameters else {}


def finite_difference(program: Program, values: dict, wrt: str, h: float = STEP) -> np.ndarray:
    """d out / d wrt as a 2-D-internal array of shape out2d + var2d (central differences)."""
    base = np.asarray(values[wrt], float)
    out0, _ = evaluate(program, values)
    var2 = _shape2(program.variables[wrt].shape)
    T = np.zeros(out0.shape + var2)
    flat = base.reshape(-1)
    for i in range(flat.size):
        step = h * max(1.0, abs(flat[i]))
        plus, minus = flat.copy(), flat.copy()
        plus[i] += step
        minus[i] -= step
        fp, _ = evaluate(program, {**values, wrt: plus.reshape(base.shape)})
        fm, _ = evaluate(program, {**values, wrt: minus.reshape(base.shape)})
        idx = np.unravel_index(i, var2)
        T[(...,) + idx] = (fp - fm) / (2 * step)
    return T


class Reference:
    """FD derivative at one point, in every form a part may return, with a tolerance test that
    re-checks with a Richardson-extrapolated difference before it calls a value wrong."""

    def __init__(self, program: Program, values: dict, wrt: str):
        self.program, self.values, self.wrt = program, values, wrt
        self.T = finite_difference(program, values, wrt)
        self._fine = None
        out, _ = evaluate(program, values)
        self.out_shape, self.var_shape = out.shape, _shape2(program.variables[wrt].shape)
        self.scale = max(1.0, float(np.max(np.abs(self.T), initial=0)))

    def fine(self):
        if self._fine is None:
            a = finite_difference(self.program, self.values, self.wrt, STEP * 20)
            b = finite_difference(self.program, self.values, self.wrt, STEP * 10)
            self._fine = (4 * b - a) / 3
        return self._fine

    def form(self, T, kind: str) -> np.ndarray:
        """``gradient``: the variable's external shape; ``api``: out.shape + var.shape (external);
        ``vec``: the Kronecker-form matrix d vec(out) / d vec(var)ᵀ."""
        ext_out = external(np.zeros(self.out_shape), None).shape
        ext_var = tuple(self.program.variables[self.wrt].shape)
        if kind == "gradient":
            return T.reshape(ext_var)
        if kind == "api":
            return T.reshape(ext_out + ext_var)
        p, q = self.out_shape
        r, s = self.var_shape
        # vec is column-major: index of (i, j) is i + p*j
        return T.transpose(1, 0, 3, 2).reshape(p * q, r * s)

    def matches(self, got, kind: str) -> tuple[bool, float]:
        got = np.asarray(got, dtype=float)
        want = self.form(self.T, kind)
        if got.shape != want.shape:
            return False, float("inf")
        err = float(np.max(np.abs(got - want), initial=0)) / self.scale
        if err <= RTOL:
            return True, err
        err2 = float(np.max(np.abs(got - self.form(self.fine(), kind)), initial=0)) / self.scale
        return err2 <= RTOL, min(err, err2)


def _classify_error(e: BaseException) -> tuple[str, str]:
    if isinstance(e, MatcalcError):
        if getattr(e, "exit_code", 2) != 2:
            return "internal", f"{type(e).__name__}: {e}"
        return ("unsupported" if isinstance(e, UnsupportedError) else "clean"), f"{type(e).__name__}: {e}"
    if isinstance(e, np.linalg.LinAlgError):
        # a singular matrix at the drawn point: det(A) A⁻ᵀ (Cookbook 49) and inv are undefined there,
        # and NumPy code (generated or evaluated) says so; the function is fine, the formula's domain is not
        return "clean", f"singular at this point: {e}"
    return "internal", f"{type(e).__name__}: {e} @ {traceback.extract_tb(e.__traceback__)[-1].name}"


def _last_statement(text: str) -> tuple[str, str]:
    parts = [p for p in re.split(r"[;\n]", text) if p.strip()]
    head = "; ".join(p.strip() for p in parts[:-1])
    return (head + "; " if head else ""), parts[-1].strip()


def _eval_text(text: str, program: Program, values: dict) -> np.ndarray:
    """The printed text parsed by matcalc's own parser and evaluated by its evaluator."""
    from matcalc.language.parser import parse
    from matcalc.language.program import normalize_shapes, typed_program
    from matcalc.language.shapes import build
    from matcalc.numeric.evaluate import evaluate as mc_evaluate
    from matcalc.numeric.evaluate import to_internal
    used = {n for n in program.variables if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text)}
    shapes = program.shapes()
    # every declared shape (they fix sizes like ones(n)); assumptions only for names the text uses
    # a size prints as its dimension's name (ones(n)/n) and is read back as that size, as
    # matcalc's own reader of printed text does (shapes.build(..., sizes=True))
    typed = build(parse(text), normalize_shapes(shapes), {n: a for n, a in program.assume().items() if n in used} or None,
                  sizes=True)
    leaves = list(typed_program(program.text(), shapes, program.assume()).variables.values())
    env = {n: to_internal(values[n], len(v.shape)) for n, v in program.variables.items()}
    (val,) = mc_evaluate([typed.output], env, GENERIC_FUNCTIONS, leaves=leaves)
    return np.asarray(val, dtype=float)


def run_oracle(program: Program, values: dict, wrt: str, parts=PARTS) -> dict:
    """{part: (outcome, detail)} for one program and variable."""
    expr, shapes, assume = program.text(), program.shapes(), program.assume() or None
    result: dict[str, tuple[str, str]] = {}
    ref = Reference(program, values, wrt)
    scalar_out = ref.out_shape == SCALAR
    try:
        d = matcalc.derive(expr, wrt, shapes=shapes, assume=assume, **_kw(matcalc.derive))
    except Exception as e:                       # noqa: BLE001 - every exception is classified
        outcome = _classify_error(e)
        return {p: outcome for p in parts}
    text = None
    if "numpy" in parts:
        try:
            got = d.numpy(GENERIC_FUNCTIONS)(**values)
            ok, err = ref.matches(got, "gradient" if scalar_out else "api")
            result["numpy"] = ("ok", "") if ok else ("silent", f"numpy() off by {err:.3g} (relative)")
        except Exception as e:                   # noqa: BLE001
            result["numpy"] = _classify_error(e)
    try:
        text = d.text()
    except Exception as e:                       # noqa: BLE001
        result.setdefault("text", _classify_error(e))
    if "text" in parts and text is not None and d.kind == "tensor" and d.forms.get(wrt) != "vec":
        # no Kronecker closed form: the text is an index/differential form, not the language
        result["text"] = ("unsupported", f"no closed form ({d.forms.get(wrt)}): {text[:200]!r}")
    elif "text" in parts and text is not None:
        try:
            kind = "gradient" if scalar_out else ("api" if d.kind == "jacobian" else "vec")
            got = _eval_text(text, program, values)
            var2 = _shape2(program.variables[wrt].shape)
            if kind == "gradient" and got.shape == var2:
                got = got.reshape(tuple(program.variables[wrt].shape))
            if kind == "api" and var2 == SCALAR:          # by a scalar: the output's shape, printed 2-D
                got = external(np.asarray(got, dtype=float), None)
            ok, err = ref.matches(got, kind)
            result["text"] = ("ok", "") if ok else ("silent", f"text {text!r} off by {err:.3g}")
        except Exception as e:                   # noqa: BLE001
            outcome, detail = _classify_error(e)
            # matcalc's own printed text must parse back: an error there is the tool's fault, except
            # a singular matrix at this point (the text parsed; its formula, det(X) X⁻ᵀ, is undefined here)
            singular = isinstance(e, np.linalg.LinAlgError)
            result["text"] = ("clean" if singular else "internal",
                              f"own text {text!r} does not evaluate here: {detail}" if singular
                              else f"own text {text!r} does not parse back: {detail}")
    if "codegen" in parts and scalar_out:
        try:
            src = matcalc.codegen(expr, wrt, shapes=shapes, assume=assume, **_kw(matcalc.codegen))
            ns: dict = {}
            exec(compile(src, "<matcalc codegen>", "exec"), ns)   # noqa: S102 - matcalc's own generated module
            out, cache = ns["forward"](functions=GENERIC_FUNCTIONS, **values)
            grads = ns["backward"](cache)
            want_out, _ = evaluate(program, values)
            if abs(float(np.asarray(out)) - float(want_out[0, 0])) > 1e-8 * max(1, abs(float(want_out[0, 0]))):
                result["codegen"] = ("silent", f"forward() = {float(np.asarray(out))} not {float(want_out[0, 0])}")
            else:
                ok, err = ref.matches(grads[wrt], "gradient")
                result["codegen"] = ("ok", "") if ok else ("silent", f"backward() off by {err:.3g}")
        except Exception as e:                   # noqa: BLE001
            result["codegen"] = _classify_error(e)
    if "check" in parts and text is not None and d.kind == "tensor" and d.forms.get(wrt) != "vec":
        # graded as its vec form: an index or differential form is no answer in the language
        result["check"] = ("unsupported", f"no closed form ({d.forms.get(wrt)}) to answer with")
    elif "check" in parts and text is not None:
        result["check"] = _check_part(expr, wrt, shapes, assume, text, ref, scalar_out, program)
    return result


def _check_part(expr, wrt, shapes, assume, text, ref, scalar_out, program):
    head, last = _last_statement(text)
    want = ref.form(ref.T, "gradient" if scalar_out else "api")
    trials = [("own text", text, True)]
    if np.max(np.abs(want), initial=0) > 1e-3 * ref.scale:
        trials.append(("doubled", f"{head}2*({last})", False))
    var_shape = program.variables[wrt].shape
    if scalar_out and len(var_shape) >= 1:
        asym = want.shape != want.T.shape or np.max(np.abs(want - want.T), initial=0) > 1e-3 * ref.scale
        if len(var_shape) == 1 or asym:
            trials.append(("transposed", f"{head}({last})'", False))
    for label, answer, expected in trials:
        try:
            v = matcalc.check(expr, wrt, answer, shapes=shapes, assume=assume)
        except Exception as e:                   # noqa: BLE001
            outcome, detail = _classify_error(e)
            if label == "own text" and outcome == "clean":
                outcome = "internal"             # its own answer is valid input: rejecting it is a bug
            return outcome, f"{label} {answer!r}: {detail}"
        if bool(v.correct) != expected:
            return "silent", f"{label} answer {answer!r} graded {'correct' if v.correct else 'wrong'}: {v.reason}"
    return "ok", ""
