"""CLI robustness (issue 10, item 6): a closed pipe, unwritable outputs, contradictory or
non-finite flags, terminals without Unicode and odd argv never end in a traceback; bad input
exits 2 with a message."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from matcalc.cli.ascii import to_ascii
from matcalc.cli.main import main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, env_extra=None, input_bytes=None, stdout=subprocess.PIPE):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.update(env_extra or {})
    cmd = [sys.executable, "-c", "import sys; from matcalc.cli.main import main; sys.exit(main())", *args]
    return subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, env=env, input=input_bytes,
                          timeout=120, check=False)


def test_closed_pipe_is_a_quiet_exit():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-c", "import sys; from matcalc.cli.main import main; sys.exit(main())",
           "derive", "x'*A*x", "--wrt", "x", "--steps"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = proc.stdout.read(1)
    proc.stdout.close()                          # what `| head -c 1` does
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert first
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert code == 0


@pytest.mark.parametrize("args", [
    ["graph", "x*y", "-o", "missing_dir/g.svg"],
    ["codegen", "x'*x", "--wrt", "x", "-o", "missing_dir/g.py"],
    ["check", "--batch", "whatever.csv", "-o", "missing_dir/r.csv"],
])
def test_unwritable_output_is_bad_input(args, tmp_path):
    r = subprocess.run([sys.executable, "-c", "import sys; from matcalc.cli.main import main; sys.exit(main())",
                        *args], cwd=tmp_path, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120, check=False)
    assert r.returncode == 2, r.stderr
    assert "missing_dir" in r.stderr and "does not exist" in r.stderr
    assert "Traceback" not in r.stderr and "internal" not in r.stderr
    assert not (tmp_path / "missing_dir").exists()


def test_output_that_is_a_folder(tmp_path, capsys):
    assert main(["codegen", "x'*x", "--wrt", "x", "-o", str(tmp_path)]) == 2
    assert "folder" in capsys.readouterr().err


@pytest.mark.parametrize("flags, word", [
    (["--shape", "W=3,4", "--shape", "W=5,5"], "--shape"),
    (["--shape", "W=3,4", "--shape", "W=3"], "--shape"),
    (["--assume", "W=symmetric", "--assume", "W=diagonal"], "--assume"),
])
@pytest.mark.parametrize("command", ["derive", "hessian", "codegen", "gradcheck"])
def test_contradictory_declarations(command, flags, word, capsys):
    assert main([command, "sum(W*x)", "--wrt", "x", *flags]) == 2
    err = capsys.readouterr().err
    assert word in err and "W" in err and "differently" in err


def test_contradictory_declarations_in_graph_and_check(capsys, tmp_path):
    assert main(["graph", "W*x", "--shape", "W=3,4", "--shape", "W=5,5", "-o", str(tmp_path / "g.dot")]) == 2
    assert main(["check", "sum(W*x)", "--wrt", "x", "--answer", "W'*ones(3)",
                 "--shape", "W=3,4", "--shape", "W=5,5"]) == 2
    assert not (tmp_path / "g.dot").exists()


def test_the_same_declaration_repeated_is_fine(capsys):
    assert main(["derive", "sum(W*x)", "--wrt", "x", "--shape", "W=3,4", "--shape", "W=3,4",
                 "--assume", "x=positive", "--assume", "x=positive", "--text"]) == 0
    assert "W'" in capsys.readouterr().out


@pytest.mark.parametrize("point", ["x=nan,y=1", "x=inf,y=1", "x=-inf,y=1", "x=1,y=[1,nan]",
                                   "x=1e999,y=2", "x=1,y=2,x=3"])
def test_non_finite_or_repeated_at(point, capsys):
    assert main(["derive", "x*y", "--wrt", "x", "--at", point]) == 2
    assert "--at" in capsys.readouterr().err


def test_finite_at_still_works(capsys):
    assert main(["derive", "x*y", "--wrt", "x", "--at", "x=1,y=2"]) == 0
    assert "= 2" in capsys.readouterr().out


@pytest.mark.parametrize("env", [{"PYTHONIOENCODING": "ascii"}, {"PYTHONIOENCODING": "latin-1"}])
def test_terminal_without_unicode_gets_the_text_form(env):
    r = run_cli("derive", "x'*A*x", "--wrt", "x", env_extra=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode("ascii").strip() == "(A + A')*x"
    assert not r.stderr


def test_lc_all_c_never_crashes():
    r = run_cli("derive", "sum(α*x)", "--wrt", "x", env_extra={"LC_ALL": "C", "LANG": "C",
                                                            "PYTHONIOENCODING": ""})
    assert r.returncode == 0, r.stderr
    assert b"Traceback" not in r.stderr


@pytest.mark.parametrize("args", [
    ["derive", "x'*A*x", "--wrt", "x", "--steps"],
    ["hessian", "x'*A*x", "--wrt", "x"],
    ["check", "x'*x", "--wrt", "x", "--answer", "3*x"],
    ["derive", "sum(α*x)", "--wrt", "x"],
    ["--help"],
])
def test_ascii_terminal_every_command(args):
    r = run_cli(*args, env_extra={"PYTHONIOENCODING": "ascii"})
    assert r.returncode in (0, 1), r.stderr
    r.stdout.decode("ascii")
    r.stderr.decode("ascii")
    assert b"Traceback" not in r.stderr and b"internal" not in r.stderr


def test_ascii_flag_matches_the_text_form(capsys):
    assert main(["derive", "u'*f(W*x + b)", "--wrt", "W,b", "--text"]) == 0
    text = capsys.readouterr().out
    assert main(["derive", "u'*f(W*x + b)", "--wrt", "W,b", "--ascii"]) == 0
    assert capsys.readouterr().out == text
    assert main(["--ascii", "check", "x'*x", "--wrt", "x", "--answer", "2*x'"]) in (0, 1)
    assert capsys.readouterr().out.isascii()


def test_transliteration_is_faithful():
    assert to_ascii("∂f/∂x = (A + Aᵀ) x") == "df/dx = (A + A') x"
    assert to_ascii("z₁ = x ∘ y ⊘ z − 1") == "z_1 = x .* y ./ z - 1"
    assert to_ascii("X⁻¹ + x² + 𝟏") == "X^(-1) + x^2 + ones"
    assert to_ascii("z₁₂") == "z_12" and to_ascii("z₁ z₂") == "z_1 z_2"
    assert to_ascii("α") == "\\u03b1"           # no ASCII spelling: escaped, never dropped
    assert to_ascii("plain (x+1)*y'") == "plain (x+1)*y'"


@pytest.mark.parametrize("args", [
    ["derive", "", "--wrt", "x"],
    ["derive", "x'*x", "--wrt", ""],
    ["derive", "sum(" + "(" * 3000 + "x" + ")" * 3000 + ")", "--wrt", "x"],
    ["derive", "x +* y", "--wrt", "x"],
    ["derive", "x'*x", "--wrt", "x", "--shape", "=3"],
    ["hessian", "x", "--wrt", "y"],
    ["graph", "x*y", "-o", "g.txt"],
    ["derive", "x'*x"],
])
def test_bad_input_is_exit_2(args, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err


def test_long_input_no_traceback(capsys):
    assert main(["derive", "+".join(["x"] * 5000), "--wrt", "x", "--text"]) == 0
    assert "5000" in capsys.readouterr().out


def test_non_utf8_argv_is_bad_input():
    r = subprocess.run([sys.executable, "-c", "import sys; from matcalc.cli.main import main; sys.exit(main())",
                        "derive", os.fsdecode(b"x\xff"), "--wrt", "x"], capture_output=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT), LC_ALL="C.UTF-8"), timeout=120, check=False)
    assert r.returncode == 2, r.stderr
    assert b"not valid UTF-8" in r.stderr and b"Traceback" not in r.stderr


def test_ascii_terminal_keeps_generated_code_and_json_exact():
    r = run_cli("codegen", "α*sum(x)", "--wrt", "x", env_extra={"PYTHONIOENCODING": "ascii"})
    assert r.returncode == 0, r.stderr
    source = r.stdout.decode("utf-8")
    compile(source, "generated.py", "exec")
    assert "α" in source and "\\u03b1" not in source
    r = run_cli("derive", "x'*A*x", "--wrt", "x", "--json", env_extra={"PYTHONIOENCODING": "ascii"})
    assert r.returncode == 0, r.stderr
    payload = json.loads(r.stdout.decode("ascii"))
    assert payload["gradient"]["unicode"] == "∂f/∂x = (A + Aᵀ) x"


def test_ascii_errors_quote_the_input_exactly():
    r = run_cli("derive", "sum(𝟏)", "--wrt", "x", env_extra={"PYTHONIOENCODING": "ascii"})
    assert r.returncode == 2
    err = r.stderr.decode("ascii")
    assert "\\U0001d7cf" in err and "ones" not in err


def test_closed_pipe_keeps_a_wrong_verdicts_exit_code():
    """`matcalc check ... | head -1`: the reader leaves early, the verdict (wrong: 1) still decides."""
    cmd = [sys.executable, "-c", "import sys; from matcalc.cli.main import main; sys.exit(main())",
           "check", "x'*x", "--wrt", "x", "--answer", "2*x + max(x, 50) - 50"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    proc.stdout.close()                           # nobody reads: every write hits a closed pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1, err
    assert "Traceback" not in err
