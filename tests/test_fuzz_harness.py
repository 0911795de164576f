"""The fuzz harness itself: reproducible, well-typed, and an oracle that can fail."""
import numpy as np
from fuzz.evaluator import evaluate, sample_point
from fuzz.generator import generate
from fuzz.oracle import Reference, run_oracle
from fuzz.run import examples


def test_same_seed_same_program():
    assert [generate(3, i).text() for i in range(20)] == [generate(3, i).text() for i in range(20)]
    assert generate(3, 1).text() != generate(4, 1).text() or generate(3, 2).text() != generate(4, 2).text()


def test_generated_programs_type_check():
    from matcalc.language.program import typed_program
    from matcalc.core.errors import NameError_, ParseError, ShapeError
    for _, p, _, _ in examples(7, 60):
        try:
            typed_program(p.text(), p.shapes(), p.assume())
        except (ParseError, ShapeError, NameError_) as e:     # ill-typed: the generator's fault
            raise AssertionError(f"{p.text()} {p.shapes()}: {e}") from e
        except Exception:                                     # noqa: BLE001, S110 - matcalc's own bug,
            pass                                              # counted by test_fuzz


def test_independent_evaluator_agrees_with_matcalc_forward():
    from fuzz.evaluator import GENERIC_FUNCTIONS

    from matcalc.language.program import typed_program
    from matcalc.numeric.evaluate import evaluate as mc_evaluate
    from matcalc.numeric.evaluate import to_internal
    compared = 0
    for _, p, values, _ in examples(5, 60):
        try:                                                  # matcalc's crashes are test_fuzz's
            typed = typed_program(p.text(), p.shapes(), p.assume())
            env = {n: to_internal(values[n], len(v.shape)) for n, v in p.variables.items()}
            (theirs,) = mc_evaluate([typed.output], env, GENERIC_FUNCTIONS)
        except Exception:                                     # noqa: BLE001, S112
            continue
        mine, _ = evaluate(p, values)
        assert np.allclose(mine, theirs, rtol=1e-9, atol=1e-9), p.text()
        compared += 1
    assert compared >= 40


def test_reference_rejects_a_wrong_gradient():
    p = next(p for _, p, _, _ in examples(0, 50) if p.output.shape == (1, 1))
    values = sample_point(p, 1)
    wrt = p.wrt_candidates()[0]
    ref = Reference(p, values, wrt)
    right = ref.form(ref.T, "gradient")
    assert ref.matches(right, "gradient")[0]
    assert not ref.matches(right + 0.01 * ref.scale + 0.01, "gradient")[0]


def test_oracle_ok_on_a_simple_program():
    from fuzz.generator import Expr, Program, Variable
    x = Expr("var", (), (3, 1), "x")
    out = Expr("sum", (Expr("fn", (x,), (3, 1), "tanh"),), (1, 1))
    p = Program([(None, out)], {"x": Variable("x", (3,))})
    res = run_oracle(p, sample_point(p, 0), "x")
    assert all(o == "ok" for o, _ in res.values()), res


def test_shrinker_keeps_the_failure_and_drops_the_rest(monkeypatch):
    import fuzz.shrink as shrink_module
    from fuzz.generator import Expr, Program, Variable

    def fake_oracle(p, values, wrt, parts):           # "fails" while a tanh is left in the program
        has = any(e.op == "fn" and e.attr == "tanh" for _, s in p.statements for e in s.walk())
        return {parts[0]: ("silent" if has else "ok", "")}
    monkeypatch.setattr(shrink_module, "run_oracle", fake_oracle)
    x = Expr("var", (), (3, 1), "x")
    big = Expr("add", (Expr("fn", (Expr("had", (x, x), (3, 1)),), (3, 1), "tanh"),
                       Expr("fn", (x,), (3, 1), "exp")), (3, 1))
    p = Program([(None, Expr("sum", (big,), (1, 1)))], {"x": Variable("x", (3,))})
    small, _ = shrink_module.shrink(p, "x", "numpy", "silent")
    assert "tanh" in small.text() and "exp" not in small.text() and ".*" not in small.text(), small.text()
