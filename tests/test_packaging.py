"""The package behaves like a well-kept one: --version, python -m matcalc, input from stdin or a
file, a versioned JSON schema for every --json output (errors included), shell completion,
py.typed with re-exports a type checker sees, and the files an sdist needs to run its tests."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

import matcalc
from matcalc.cli.main import main
from matcalc.language.parser import MAX_LENGTH

ROOT = Path(__file__).resolve().parent.parent
jsonschema = pytest.importorskip("jsonschema")


def run(argv, capsys, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", _Stdin(stdin))
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


class _Stdin:
    """Standard input holding ``text``, read as the CLI reads it (with a size bound)."""

    def __init__(self, text: str):
        self.text, self.reads = text, []

    def read(self, size: int = -1) -> str:
        self.reads.append(size)
        out = self.text if size < 0 else self.text[:size]
        self.text = self.text[len(out):]
        return out


# ------------------------------------------------------------------ version, -m
def test_version_flag_prints_the_package_version(capsys):
    code, out, _ = run(["--version"], capsys)
    assert code == 0
    assert out.strip() == f"matcalc {matcalc.__version__}"


def test_python_dash_m_matcalc_runs_the_command_line():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for module in ("matcalc", "matcalc.cli"):
        got = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True, env=env, check=False)
        assert got.returncode == 0 and got.stdout.strip() == f"matcalc {matcalc.__version__}", got
    got = subprocess.run([sys.executable, "-m", "matcalc", "derive", "norm(W*x)^2", "--wrt", "W"],
                         capture_output=True, text=True, env=env, check=False)
    assert got.returncode == 0 and got.stdout.strip() == "∂f/∂W = 2 W x xᵀ"


# ------------------------------------------------------------------ - and @FILE
def test_dash_reads_the_expression_from_stdin(capsys, monkeypatch):
    code, out, _ = run(["derive", "-", "--wrt", "W"], capsys, stdin="norm(W*x)^2\n", monkeypatch=monkeypatch)
    assert (code, out.strip()) == (0, "∂f/∂W = 2 W x xᵀ")


def test_dash_reads_a_whole_program_with_newlines(capsys, monkeypatch):
    program = "h = sigmoid(W*x)\nL = norm(h - y)^2\n"
    code, out, _ = run(["derive", "-", "--wrt", "W", "--text"], capsys, stdin=program, monkeypatch=monkeypatch)
    assert code == 0 and "sigmoid" in out


def test_at_file_reads_the_expression_from_a_file(tmp_path, capsys):
    f = tmp_path / "loss.mc"
    f.write_text("x'*A*x\n", encoding="utf-8")
    code, out, _ = run(["derive", f"@{f}", "--wrt", "x"], capsys)
    assert (code, out.strip()) == (0, "∂f/∂x = (A + Aᵀ) x")


def test_the_answer_may_come_from_a_file_or_stdin(tmp_path, capsys, monkeypatch):
    f = tmp_path / "answer.txt"
    f.write_text("2*W*x*x'", encoding="utf-8")
    assert run(["check", "norm(W*x)^2", "--wrt", "W", "--answer", f"@{f}"], capsys)[0] == 0
    code, out, _ = run(["check", "norm(W*x)^2", "--wrt", "W", "--answer", "-"], capsys, stdin="W*x*x'\n",
                       monkeypatch=monkeypatch)
    assert code == 1 and out.startswith("wrong:")


@pytest.mark.parametrize("case, message", [
    ("missing", "no such file"), ("folder", "it is a folder"), ("empty", "it is empty"),
    ("latin1", "not UTF-8"),
])
def test_a_bad_input_file_is_a_clear_exit_2(tmp_path, capsys, case, message):
    path = {"missing": tmp_path / "nope.mc", "folder": tmp_path}.get(case, tmp_path / "f.mc")
    if case == "empty":
        path.write_text("\n")
    if case == "latin1":
        path.write_bytes("x'*x + \xe9".encode("latin-1"))
    code, out, err = run(["derive", f"@{path}", "--wrt", "x"], capsys)
    assert code == 2 and message in err and "Traceback" not in err and out == ""


def test_stdin_is_read_with_a_bound(capsys, monkeypatch):
    stdin = _Stdin("x+" * (MAX_LENGTH * 3))
    monkeypatch.setattr(sys, "stdin", stdin)
    code = main(["derive", "-", "--wrt", "x"])
    err = capsys.readouterr().err
    assert code == 2 and "too long" in err
    assert stdin.reads == [MAX_LENGTH + 1]          # never an unbounded read


def test_only_one_argument_reads_stdin(capsys, monkeypatch):
    code, _, err = run(["check", "-", "--wrt", "x", "--answer", "-"], capsys, stdin="x'*x", monkeypatch=monkeypatch)
    assert code == 2 and "only one argument" in err


def test_batch_reads_stdin(capsys, monkeypatch):
    import io

    class Buffered:
        buffer = io.BufferedReader(io.BytesIO(b"id,expr,wrt,answer\n1,x'*x,x,2*x\n2,x'*x,x,x\n"))

    monkeypatch.setattr(sys, "stdin", Buffered)
    code = main(["check", "--batch", "-"])
    out = capsys.readouterr()
    assert code == 0
    assert [line.split(",")[5] for line in out.out.strip().splitlines()[1:]] == ["correct", "wrong"]


# ------------------------------------------------------------------ JSON schema
def schema(name: str) -> dict:
    return json.loads(resources.files("matcalc").joinpath(f"schemas/{name}-v1.json").read_text(encoding="utf-8"))


def validated(out: str, name: str) -> dict:
    doc = json.loads(out)
    jsonschema.validate(doc, schema(name))
    assert doc["schema"] == f"matcalc/{name}/v1"
    return doc


@pytest.mark.parametrize("schema_name", ["derive", "hessian", "check", "error"])
def test_every_schema_is_a_valid_json_schema(schema_name):
    jsonschema.Draft202012Validator.check_schema(schema(schema_name))


@pytest.mark.parametrize("extra", [[], ["--at", "x=[1,2]"], ["--steps"], ["--steps", "--at", "x=[1,2]"],
                                   ["--form", "both"], ["--form", "jacobian"], ["--no-verify"]])
def test_derive_json_keeps_its_shape_whatever_the_options(capsys, extra):
    code, out, _ = run(["derive", "x'*x", "--wrt", "x", "--json", *extra], capsys)
    doc = validated(out, "derive")
    assert code == 0
    assert {"schema", "expr", "wrt", "kind", "notes", "check"} <= set(doc)
    assert ("steps" in doc) == ("--steps" in extra) and ("at" in doc) == ("--at" in extra)
    assert doc["gradient" if "jacobian" not in extra else "jacobian"]["text"]
    if "--at" in extra:
        assert doc["at"] == {"value": 5.0, "gradients": {"x": [2.0, 4.0]}}
    if "--steps" in extra:
        assert doc["steps"]["unicode"]["steps"][0]["op"] == "matmul"
    assert (doc["check"] is None) == ("--no-verify" in extra)


def test_derive_json_of_a_jacobian_and_a_tensor(capsys):
    doc = validated(run(["derive", "tanh(W*x)", "--wrt", "x", "--json"], capsys)[1], "derive")
    assert doc["kind"] == "jacobian" and "jacobian" in doc
    doc = validated(run(["derive", "W*x", "--wrt", "W", "--json"], capsys)[1], "derive")
    assert doc["kind"] == "tensor"


def test_hessian_and_check_json(capsys):
    validated(run(["hessian", "x'*A*x", "--wrt", "x", "--json"], capsys)[1], "hessian")
    code, out, _ = run(["check", "x'*x", "--wrt", "x", "--answer", "x", "--json"], capsys)
    assert code == 1 and validated(out, "check")["correct"] is False


@pytest.mark.parametrize("argv, kind, where", [
    (["derive", "x'*", "--wrt", "x", "--json"], "ParseError", (1, 3)),
    (["derive", "A*x + x'", "--wrt", "x", "--json"], None, None),
    (["derive", "x'*x", "--wrt", "y", "--json"], None, None),
    (["derive", "x'*x", "--json"], "MatcalcError", None),               # argparse: --wrt missing
    (["hessian", "sin(", "--wrt", "x", "--json"], "ParseError", (1, 4)),
    (["check", "x'*", "--wrt", "x", "--answer", "2*x", "--json"], "ParseError", (1, 3)),
])
def test_errors_are_json_too_with_line_column_and_exit_code(capsys, argv, kind, where):
    code, out, err = run(argv, capsys)
    doc = validated(out, "error")
    assert code == 2 == doc["error"]["exit_code"]
    assert doc["error"]["message"] and err.startswith("error:")     # humans still read stderr
    if kind:
        assert doc["error"]["kind"] == kind
    if where:
        assert (doc["error"]["line"], doc["error"]["column"]) == where
        assert doc["error"]["source_line"] == argv[1]


def test_schemas_are_package_data_in_pyproject():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"schemas/*.json"' in text and '"py.typed"' in text


# ------------------------------------------------------------------ completion, typing
@pytest.mark.parametrize("shell", ["bash", "zsh", "tcsh"])
def test_shell_completion_script_names_every_subcommand(capsys, shell):
    pytest.importorskip("shtab")
    code, out, _ = run(["--print-completion", shell], capsys)
    assert code == 0
    assert "wrt" in out and "print-completion" in out
    for command in ("derive", "hessian", "check", "codegen", "gradcheck", "graph"):
        assert command in out


def test_py_typed_marker_ships():
    assert resources.files("matcalc").joinpath("py.typed").is_file()


def test_mypy_sees_the_public_api_of_a_user_script(tmp_path):
    mypy = shutil.which("mypy")
    if mypy is None:
        if os.environ.get("MATCALC_REQUIRE_EXTRAS") == "1":
            pytest.fail("mypy is not installed (pip install -e '.[test]')")
        pytest.skip("mypy is not installed (pip install -e '.[test]')")
    script = tmp_path / "homework.py"
    script.write_text('import matcalc\n\nd = matcalc.derive("norm(W*x)^2", wrt="W")\nreveal_type(d)\n'
                      'text: str = d.text()\nv = matcalc.check("x\'*x", "x", "2*x")\nok: bool = v.correct\n'
                      'matcalc.derive(3)\n', encoding="utf-8")
    env = dict(os.environ, MYPYPATH=str(ROOT))
    got = subprocess.run([mypy, "--follow-imports=silent", "--ignore-missing-imports", "--no-incremental",
                          str(script)], capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert 'Revealed type is "matcalc.derivation.derivation.Derivation"' in got.stdout, got.stdout
    # the one deliberate mistake (line 8) is found, and nothing else
    errors = [line for line in got.stdout.splitlines() if ": error:" in line]
    assert errors and all(line.startswith(f"{script}:8: error") or "homework.py:8: error" in line
                          for line in errors), got.stdout


# ------------------------------------------------------------------ sdist contents
def test_the_sdist_ships_what_the_tests_read():
    """MANIFEST.in includes every folder the tests read, the license and the changelog (the
    sdist's own test run is in .ci/run)."""
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8")
    for needed in ("LICENSE", "CHANGELOG.md", "graft tests", "graft worked_examples", "graft docs",
                   "graft benchmarks"):
        assert needed in manifest, needed
