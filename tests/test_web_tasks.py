"""The page's API computes the CLI's --json objects (the same schema, the same verified results),
reads its form fields without eval, and reports errors with the line, column and caret."""
from __future__ import annotations

import json
from importlib import resources

import pytest

from matcalc.cli.main import main
from matcalc.output.explain import parse_at
from matcalc.web.fields import FieldError, parse_assume, parse_shapes, read_request
from matcalc.web.tasks import limit_payload, run_task


def cli_json(capsys, *argv):
    capsys.readouterr()
    assert main(list(argv)) in (0, 1)
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("expr, wrt, shapes, assume", [
    ("norm(W*x)^2", "W", "", ""),
    ("x'*A*x", "x", "A=n,n", ""),
    ("-y'*log_softmax(W*x)", "W", "", "y=onehot"),
    ("W*x", "x", "", ""),                                   # a Jacobian: one form
])
def test_derive_is_the_cli_json(capsys, expr, wrt, shapes, assume):
    status, got = run_task("derive", {"expr": expr, "wrt": wrt, "shapes": shapes, "assume": assume})
    argv = ["derive", expr, "--wrt", wrt, "--json", "--form", "both"]
    argv += [a for s in shapes.split() for a in ("--shape", s)] + [a for s in assume.split() for a in ("--assume", s)]
    assert status == 200
    cli = cli_json(capsys, *argv)
    cli["expr"] = cli["expr"].strip()          # the CLI shields a leading '-' from argparse with a space
    assert got == cli


def test_steps_hessian_and_check_are_the_cli_json(capsys):
    status, steps = run_task("steps", {"expr": "(x+y)*z", "wrt": "x,y,z", "at": "x=-2,y=5,z=-4"})
    assert status == 200
    assert steps == cli_json(capsys, "derive", "(x+y)*z", "--wrt", "x,y,z", "--steps", "--json", "--at", "x=-2,y=5,z=-4")
    assert steps["schema"] == "matcalc/derive/v1" and steps["steps"]["latex"]["steps"]
    assert steps["at"]["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}
    status, h = run_task("hessian", {"expr": "x'*A*x", "wrt": "x"})
    assert status == 200 and h == cli_json(capsys, "hessian", "x'*A*x", "--wrt", "x", "--json")
    for answer in ("(A + A')*x", "A*x"):
        status, v = run_task("check", {"expr": "x'*A*x", "wrt": "x", "answer": answer})
        assert status == 200 and v == cli_json(capsys, "check", "x'*A*x", "--wrt", "x", "--answer", answer, "--json")
    assert run_task("check", {"expr": "x'*A*x", "wrt": "x", "answer": "(A + A')*x"})[1]["correct"] is True
    assert run_task("check", {"expr": "x'*A*x", "wrt": "x", "answer": "A*x"})[1]["diagnosis"] == "wrong"


def test_codegen_returns_the_gradchecked_module(capsys):
    status, got = run_task("codegen", {"expr": "norm(W*x)^2", "wrt": "W"})
    assert status == 200
    capsys.readouterr()
    assert main(["codegen", "norm(W*x)^2", "--wrt", "W"]) == 0
    assert got["source"] == capsys.readouterr().out
    assert "def backward(" in got["source"]


def test_graph_with_a_random_point_draws_values_and_gradients():
    status, got = run_task("graph", {"expr": "(x+y)*z", "wrt": "x,y,z", "at": "random", "seed": 3})
    assert status == 200 and got["svg"].startswith("<svg") and 'class="grad"' in got["svg"]
    point = parse_at(got["at"])
    assert set(point) == {"x", "y", "z"}
    again = run_task("graph", {"expr": "(x+y)*z", "wrt": "x,y,z", "at": got["at"]})[1]
    assert again["svg"] == got["svg"]                     # the point, as text, reproduces the picture
    assert run_task("graph", {"expr": "(x+y)*z", "at": "random", "seed": 3})[1]["at"] == got["at"]   # seeded


def test_random_point_respects_the_domain_and_the_assumptions():
    _, got = run_task("point", {"expr": "logdet(X) + sum(log(v))", "wrt": "X,v", "assume": "X=spd", "seed": 1})
    point = parse_at(got["at"])
    assert min(point["v"]) > 0
    status, _ = run_task("steps", {"expr": "logdet(X) + sum(log(v))", "wrt": "X,v", "assume": "X=spd",
                                   "at": got["at"]})
    assert status == 200


def test_a_parse_error_is_the_cli_error_document(capsys):
    status, got = run_task("derive", {"expr": "norm(W*x))", "wrt": "W"})
    assert status == 400
    capsys.readouterr()
    assert main(["derive", "norm(W*x))", "--wrt", "W", "--json"]) == 2
    assert got == json.loads(capsys.readouterr().out)
    err = got["error"]
    assert (err["kind"], err["line"], err["column"], err["source_line"], err["exit_code"]) == (
        "ParseError", 1, 10, "norm(W*x))", 2)


def test_an_unreadable_answer_is_a_verdict_that_names_the_column():
    """As in ``matcalc check``: an answer that does not parse is graded "unreadable" (exit 1 there)."""
    status, got = run_task("check", {"expr": "x'*A*x", "wrt": "x", "answer": "(A + A'*x"})
    assert status == 200 and got["diagnosis"] == "unreadable" and "column 1" in got["reason"]


@pytest.mark.parametrize("body, field", [
    ({"expr": "x'*x", "wrt": ""}, "wrt"),
    ({"expr": "x'*x", "wrt": "x", "shapes": "x=1,2,3"}, "shapes"),
    ({"expr": "x'*x", "wrt": "x", "assume": "x"}, "assume"),
    ({"expr": 3, "wrt": "x"}, "expr"),
    ({"expr": "x" * 20_001, "wrt": "x"}, "expr"),
    ({"expr": "x'*x", "wrt": "x", "seed": -1}, "seed"),
])
def test_bad_fields_are_named(body, field):
    """A field error's message starts with the field's name (the page puts it under that box)."""
    status, got = run_task("derive", body)
    err = got["error"]
    assert status == 400 and err["kind"] == "FieldError" and err["exit_code"] == 2
    assert err["message"].startswith(field)


def test_every_document_is_valid_against_the_shipped_schemas():
    jsonschema = pytest.importorskip("jsonschema")
    bodies = {"derive": {"expr": "x'*A*x", "wrt": "x"}, "steps": {"expr": "x'*A*x", "wrt": "x", "at": "x=[1,2],A=[1,2;3,4]"},
              "hessian": {"expr": "x'*A*x", "wrt": "x"}, "check": {"expr": "x'*A*x", "wrt": "x", "answer": "A*x"}}
    for op, body in [*bodies.items(), ("derive", {"expr": "x'*A*x)", "wrt": "x"}), ("derive", {"expr": "x", "wrt": ""})]:
        doc = run_task(op, body)[1]
        name = doc["schema"].split("/")[1]
        schema = json.loads(resources.files("matcalc").joinpath(f"schemas/{name}-v1.json").read_text(encoding="utf-8"))
        jsonschema.validate(doc, schema)
    jsonschema.validate(limit_payload("TimeLimitError", "stopped"),
                        json.loads(resources.files("matcalc").joinpath("schemas/error-v1.json").read_text(encoding="utf-8")))


def test_unknown_operation_and_non_object_body():
    assert run_task("eval", {})[0] == 400
    assert run_task("derive", ["x"])[0] == 400


def test_fields_are_split_not_evaluated():
    assert parse_shapes("W = n, m ; x=m lam=scalar o=index y=3") == {
        "W": ("n", "m"), "x": ("m",), "lam": (), "o": "index", "y": (3,)}
    assert parse_assume("y=onehot  X=spd") == {"y": "onehot", "X": "spd"}
    with pytest.raises(FieldError):
        parse_shapes("__import__('os')=1")
    with pytest.raises(FieldError):
        parse_shapes("W=n,m W=m,n")
    assert read_request({"expr": "x", "junk": object()})["expr"] == "x"     # unknown keys are ignored


def test_the_derive_path_still_verifies():
    """The page shows only verified results: derive's check report comes with the answer."""
    _, got = run_task("derive", {"expr": "sum(exp(W*x))", "wrt": "W"})
    assert got["check"]["status"] == "ok"


def test_a_generic_function_is_drawn_without_values_and_says_why():
    status, got = run_task("graph", {"expr": "u'*f(W*x + b)", "wrt": "W,b", "at": "random"})
    assert status == 200 and got["at"] == "" and "generic" in got["note"] and 'class="grad"' not in got["svg"]
    status, got = run_task("graph", {"expr": "u'*f(W*x + b)", "wrt": "W,b", "at": "u=[1,2],W=[1,2;3,4],x=[1,1],b=[0,0]"})
    assert status == 400 and got["error"]["kind"] == "UnsupportedError"


def test_steps_of_every_kind_are_the_cli_json(capsys):
    """Index notation (``index``), a vector output's Jacobian chain and a matrix output's chain
    in vec form: the page's steps are the CLI's ``--steps --json [--index]``."""
    for body, flags in [({"expr": "norm(W*x)^2", "wrt": "W", "index": True}, ["--index"]),
                        ({"expr": "tanh(W*x + b)", "wrt": "x"}, []), ({"expr": "tanh(W*X)", "wrt": "X"}, [])]:
        status, steps = run_task("steps", body)
        assert status == 200
        assert steps == cli_json(capsys, "derive", body["expr"], "--wrt", body["wrt"], "--steps", "--json", *flags)
    status, err = run_task("steps", {"expr": "norm(W*x)^2", "wrt": "W", "index": "yes"})
    assert status == 400 and err["error"]["message"] == "index: true or false"
