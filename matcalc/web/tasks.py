"""What one API request computes, run inside a worker process: the same JSON as the CLI's ``--json``.

``run_task(op, body)`` returns ``(status, payload)``: HTTP 200 and the result, or an error
document.  The results are the CLI's documents (``matcalc.derivation.payload``, docs/json.md):
``derive`` is ``matcalc derive --json --form both``'s, ``steps`` is ``matcalc derive --steps
--json [--at POINT]``'s, ``hessian`` is ``matcalc hessian --json``'s, ``check`` is ``matcalc
check --json``'s; ``codegen``
returns the module ``matcalc codegen`` prints, ``graph`` the SVG ``matcalc graph -o x.svg
--renderer builtin`` writes, and ``point`` a random point in the ``--at`` spelling.  Every
public path verifies what it returns (derive and hessian by central differences, codegen by its
gradcheck, check against a verified expectation), as on the command line.

An error is the CLI's ``matcalc/error/v1`` document: the message, the error's kind, the 1-based
line and column and the input line they point into (or nulls), and the exit code the CLI would
return (see docs/web.md).
"""
from __future__ import annotations

import numpy as np

from matcalc.api import MatcalcError, check, codegen, codegen_hessian, derive, graph_model, hessian, wrt_names
from matcalc.core.errors import InternalError, UnsupportedError
from matcalc.derivation.payload import derivation_payload, error_payload, hessian_payload, schema_id
from matcalc.language.program import typed_program
from matcalc.numeric.evaluate import to_external
from matcalc.numeric.finite_differences import sample_point
from matcalc.output.explain import parse_at
from matcalc.output.picture import to_svg
from matcalc.web.fields import FieldError, parse_assume, parse_shapes, read_request, require

STATUS = {2: 400, 3: 500}
POINT_TRIES = 20


def _inputs(f: dict) -> tuple[str, str, dict | None, dict | None]:
    require(f, "expr", "wrt")
    return f["expr"], f["wrt"], parse_shapes(f["shapes"]) or None, parse_assume(f["assume"]) or None


def derive_payload(f: dict) -> dict:
    """``matcalc derive EXPR --wrt W --json --form both`` (one Jacobian form for a non-scalar output)."""
    expr, wrt, shapes, assume = _inputs(f)
    d = derive(expr, wrt, shapes=shapes, assume=assume)
    form = f["form"] if f["form"] in ("gradient", "jacobian") else "both"
    return derivation_payload(d, ("gradient", "jacobian") if form == "both" else (form,))


def steps_payload(f: dict) -> dict:
    """``matcalc derive EXPR --wrt W --steps --json [--index] [--at POINT]``: verified, then
    explained (a scalar output's gradient steps, or in index notation; a vector output's Jacobian
    chain; a matrix output's chain in vec form)."""
    expr, wrt, shapes, assume = _inputs(f)
    d = derive(expr, wrt, shapes=shapes, assume=assume, steps=True)
    return derivation_payload(d, ("gradient",), steps=True, at=parse_at(f["at"]) if f["at"].strip() else None,
                              index=f["index"])


def random_point(expr: str, wrt: str | None, shapes, assume, seed: int) -> str:
    """A point inside the expression's domain (as the checks draw them), in the ``--at`` spelling
    with 2 decimals: vectors ``[a,b]``, matrices ``[a,b;c,d]``; an index counts from 1."""
    if not wrt:                                  # the picture's default: every variable
        wrt = list(typed_program(expr, shapes, assume).variables)
    d = derive(expr, wrt, shapes=shapes, assume=assume, verify=False)
    variables = {**d.typed.variables, **d.variables}
    rng = np.random.default_rng(seed)
    for _ in range(POINT_TRIES):             # a point small enough to read on the picture: sizes ≤ 3
        env = sample_point([d.typed.output, *d.results.values()], variables, rng, {})
        if env is None or max((max(v.shape) for v in env.values()), default=1) <= 3:
            break
    if env is None:
        raise MatcalcError("no random point inside the domain was found: type one in the point field")
    parts = []
    for name, var in variables.items():
        value = np.round(np.asarray(to_external(env[name], var.attrs[1]), dtype=float), 2) + 0.0
        if var.attrs[2] == "index":
            value = value + 1
        if value.ndim == 0:
            parts.append(f"{name}={value:g}")
        else:
            rows = value if value.ndim == 2 else [value]
            parts.append(f"{name}=[" + ";".join(",".join(f"{v:g}" for v in row) for row in rows) + "]")
    return ",".join(parts)


def point_payload(f: dict) -> dict:
    """A random point: ``{"at": "x=0.13,W=[1.2,-0.4;0.3,2]"}`` (no CLI document has this shape)."""
    expr, wrt, shapes, assume = _inputs(f)
    return {"at": random_point(expr, wrt, shapes, assume, f["seed"])}


def graph_payload(f: dict) -> dict:
    """The computational graph as SVG (the built-in writer), with the values and gradients at
    ``at`` (``"random"``: a random point, returned as ``"at"`` so that the page can show it; none
    where a generic function has no values, said in ``note``)."""
    require(f, "expr")
    expr, shapes, assume = f["expr"], parse_shapes(f["shapes"]) or None, parse_assume(f["assume"]) or None
    wrt = f["wrt"].strip() or None
    at = f["at"].strip()
    note = ""
    if at == "random":
        try:
            at = random_point(expr, wrt, shapes, assume, f["seed"])
            model = graph_model(expr, wrt, shapes, assume, parse_at(at))
        except UnsupportedError as e:       # a generic f has no values: the picture without them
            at, note = "", f"no values drawn: {e.message}"
            model = graph_model(expr, wrt, shapes, assume)
    else:
        model = graph_model(expr, wrt, shapes, assume, parse_at(at) if at else None)
    return {"expr": expr, "at": at, "note": note, "svg": to_svg(model)}


def codegen_payload(f: dict) -> dict:
    """``matcalc codegen`` (``form: "hessian"``: ``--hessian``), gradchecked before it is returned."""
    expr, wrt, shapes, assume = _inputs(f)
    make = codegen_hessian if f["form"] == "hessian" else codegen
    return {"expr": expr, "wrt": wrt, "source": make(expr, wrt, shapes=shapes, assume=assume)}


def hessian_task(f: dict) -> dict:
    """``matcalc hessian EXPR --wrt x --json``."""
    expr, wrt, shapes, assume = _inputs(f)
    return hessian_payload(hessian(expr, wrt, shapes=shapes, assume=assume))


def check_payload(f: dict) -> dict:
    """``matcalc check EXPR --wrt W --answer ANSWER --json``: the verdict and its diagnosis.  With
    several variables in ``wrt`` (``W,b``) the answer is graded as the derivative by the first."""
    expr, wrt, shapes, assume = _inputs(f)
    require(f, "answer")
    form = f["form"] if f["form"] in ("gradient", "jacobian", "hessian") else None
    verdict = check(expr, wrt_names(wrt)[0], f["answer"], shapes=shapes, assume=assume, form=form)
    return {"schema": schema_id("check"), **verdict.to_dict()}


TASKS = {"derive": derive_payload, "steps": steps_payload, "graph": graph_payload, "codegen": codegen_payload,
         "hessian": hessian_task, "check": check_payload, "point": point_payload}


def limit_payload(kind: str, message: str) -> dict:
    """A request stopped by its time or memory limit, or refused (busy, too long): an
    ``matcalc/error/v1`` document with ``kind`` ``TimeLimitError``, ``MemoryLimitError``,
    ``BusyError`` or ``TooLongError``, never a partial result."""
    return {"schema": schema_id("error"), "error": {"message": message, "kind": kind, "line": None, "column": None,
                                                    "source_line": None, "exit_code": 2}}


def run_task(op: str, body: object) -> tuple[int, dict]:
    """``(HTTP status, JSON object)`` for one request; never raises for anything the input causes."""
    try:
        if op not in TASKS:
            raise FieldError("", f"unknown operation {op!r}: one of {', '.join(TASKS)}")
        fields = read_request(body)
        return 200, TASKS[op](fields)
    except MemoryError:
        raise                                        # the worker reports it and is replaced
    except MatcalcError as e:
        return STATUS.get(e.exit_code, 400), error_payload(e, e.exit_code)
    except RecursionError:
        return 400, error_payload(MatcalcError("expression nested too deeply"), 2)
    except Exception as e:  # noqa: BLE001 - the last line of defence, as in the CLI
        return 500, error_payload(InternalError(f"internal error: {type(e).__name__}: {e}. Please report this input."), 3)
