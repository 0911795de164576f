"""The command line as a new user meets it: answers, exit codes, and clear errors on bad input."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from matcalc.cli.main import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_derive_prints_the_textbook_gradient(capsys):
    code, out, _ = run(capsys, "derive", "norm(W*x)**2", "--wrt", "W")
    assert code == 0 and out.strip() == "∂f/∂W = 2 W x xᵀ"


def test_both_forms_text_latex_json(capsys):
    code, out, _ = run(capsys, "derive", "a'*X*b", "--wrt", "X", "--form", "both")
    assert code == 0 and "a bᵀ" in out and "b aᵀ" in out
    code, out, _ = run(capsys, "derive", "a'*X*b", "--wrt", "X", "--text")
    assert out.strip() == "a*b'"
    code, out, _ = run(capsys, "derive", "a'*X*b", "--wrt", "X", "--latex")
    assert r"b^\top" in out
    code, out, _ = run(capsys, "derive", "a'*X*b", "--wrt", "X", "--json")
    payload = json.loads(out)
    assert payload["gradient"]["text"] == "a*b'" and payload["check"]["status"] == "ok"


def test_help_has_examples(capsys):
    code, out, _ = run(capsys, "derive", "--help")
    assert code == 0 and "examples:" in out


BAD = [
    ("unbalanced", ["derive", "(W*x", "--wrt", "W"], "unclosed '('"),
    ("stray paren", ["derive", "W*x)", "--wrt", "W"], "line 1"),
    ("clash", ["derive", "W*x", "--wrt", "W", "--shape", "W=3,4", "--shape", "x=5"], "cannot multiply"),
    ("two-arg unknown", ["derive", "g(x, y)", "--wrt", "x"], "unknown function"),
    ("python", ["derive", "__import__('os')", "--wrt", "x"], "line 1"),
    ("long", ["derive", "x+" * 51_200 + "x", "--wrt", "x"], "too long"),
    ("nested 10k", ["derive", "(" * 10_000 + "x" + ")" * 10_000, "--wrt", "x"], "too"),
    ("nested 5k", ["derive", "(" * 5_000 + "x" + ")" * 5_000, "--wrt", "x"], "nested too deeply"),
    ("empty", ["derive", "", "--wrt", "x"], "empty"),
    ("wrt missing", ["derive", "norm(x)^2", "--wrt", "q"], "does not occur"),
    ("bad shape flag", ["derive", "x'*x", "--wrt", "x", "--shape", "x"], "NAME=DIMS"),
    ("bad assumption", ["derive", "x'*x", "--wrt", "x", "--assume", "x=purple"], "unknown assumption"),
    ("no wrt", ["derive", "x'*x"], "--wrt"),
]


@pytest.mark.parametrize("name,argv,needle", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_a_clear_error_with_exit_2(capsys, name, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2, (code, err)
    assert needle in err and "Traceback" not in err and out == ""


def test_console_script_end_to_end():
    proc = subprocess.run([sys.executable, "-m", "matcalc.cli", "derive", "x'*A*x", "--wrt", "x"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == "∂f/∂x = (A + Aᵀ) x"


def test_internal_mismatch_is_exit_3_and_not_printed(capsys, monkeypatch):
    from matcalc.core import algebra as A
    from matcalc.numeric import finite_differences as fdcheck
    from matcalc.core.rules import RULES
    rule = RULES["matmul"]
    monkeypatch.setitem(RULES, "matmul", type(rule)(rule.op, rule.doc, rule.numpy,
                        lambda n, G: tuple(A.scale(2, g) for g in rule.vjp(n, G)), rule.jvp))
    code, out, err = run(capsys, "derive", "a'*X*b", "--wrt", "X")
    assert code == 3 and out == "" and "finite-difference" in err
    assert fdcheck  # the check lives there


def test_expression_starting_with_a_minus_is_not_an_option(capsys):
    code, out, _ = run(capsys, "derive", "-y'*log_softmax(W*x)", "--wrt", "W", "--assume", "y=onehot")
    assert code == 0 and out.strip() == "∂f/∂W = (softmax(W x) − y) xᵀ"


def test_package_names_are_the_functions_even_after_every_module_loads():
    import importlib
    import pkgutil

    import matcalc
    for info in pkgutil.walk_packages(matcalc.__path__, "matcalc."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    for name in matcalc.__all__:
        assert not isinstance(getattr(matcalc, name), type(importlib)), name
    assert str(matcalc.derive("x'*x", "x")) == "∂f/∂x = 2 x"
