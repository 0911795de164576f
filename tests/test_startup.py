"""Issue 13, start-up: a plain derive runs on matcalc's graph and NumPy, never importing SymPy;
argument parsing loads neither the grader nor code generation; ``numpy.random`` only when a
check samples.  Each case runs in a fresh interpreter (what a module imports is process state)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRADER = ("matcalc.grading.check", "matcalc.grading.decide", "matcalc.grading.answer")


def loaded_after(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; which modules it left loaded, and its output."""
    probe = code + "\nimport json, sys\nprint('\\n' + json.dumps(sorted(sys.modules)))\n"
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, encoding="utf-8",
                          env=env, cwd=REPO, check=True)
    *out, modules = done.stdout.rstrip("\n").split("\n")
    return {"modules": set(json.loads(modules)), "out": "\n".join(out)}


def test_a_plain_derive_on_the_command_line_never_imports_sympy():
    got = loaded_after("from matcalc.cli.main import main\nmain(['derive', 'norm(W*x)**2', '--wrt', 'W'])")
    assert "∂f/∂W = 2 W x xᵀ" in got["out"]
    assert "sympy" not in got["modules"]
    assert not got["modules"] & set(GRADER)
    assert not any(m.startswith("matcalc.generate") for m in got["modules"])
    assert "numpy.random" in got["modules"]          # the check sampled its points


@pytest.mark.parametrize("expr, wrt", [("x'*A*x", "x"), ("-y'*log_softmax(W*x)", "W"), ("logdet(X)", "X"),
                                       ("h = tanh(X*W1); L = norm(h*W2 - Y)^2", "W1")])
def test_the_api_derive_never_imports_sympy(expr, wrt):
    """(The sigmoid net's σ ∘ (1 − σ) region is one the elementwise simplifier hands to SymPy.)"""
    got = loaded_after(f"import matcalc\nd = matcalc.derive({expr!r}, {wrt!r})\nprint(d.text())")
    assert got["out"].strip()
    assert "sympy" not in got["modules"]


def test_sympy_is_imported_for_the_sympy_faces_only():
    got = loaded_after("import matcalc\nd = matcalc.derive('norm(W*x)^2', 'W')\nprint(d.gradient)")
    assert got["out"].strip() == "2*W*x*x.T"
    assert "sympy" in got["modules"]


def test_argument_parsing_loads_no_grader_no_codegen_no_sampling():
    got = loaded_after("from matcalc.cli.main import build_parser\n"
                       "build_parser().parse_args(['check', 'x', '--wrt', 'x', '--answer', '1'])")
    mods = got["modules"]
    assert "sympy" not in mods and "numpy.random" not in mods
    assert not mods & set(GRADER)
    assert not any(m.startswith("matcalc.generate") for m in mods)


def test_derive_without_the_check_does_not_load_numpy_random():
    got = loaded_after("from matcalc.cli.main import main\n"
                       "main(['derive', 'norm(W*x)**2', '--wrt', 'W', '--no-verify'])")
    assert "numpy.random" not in got["modules"] and "sympy" not in got["modules"]


def test_import_matcalc_loads_nothing_until_a_name_is_used():
    got = loaded_after("import matcalc")
    assert {m for m in got["modules"] if m.startswith("matcalc.")} <= {"matcalc.core", "matcalc.core.version"}
    assert "numpy" not in got["modules"] and "sympy" not in got["modules"]


def test_the_lazy_names_are_the_api_objects():
    import matcalc
    from matcalc import api
    from matcalc.web import serve
    for name in set(matcalc.__all__) - {"__version__", "serve"}:
        assert getattr(matcalc, name) is getattr(api, name), name
    assert matcalc.serve is serve.serve                  # the web page lives above the API
    assert set(matcalc.__all__) <= set(dir(matcalc))
    with pytest.raises(AttributeError):
        matcalc.no_such_name  # noqa: B018
