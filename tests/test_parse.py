"""Tests for matcalc.parse: operators, aliases, precedence, programs, spans and errors."""
from __future__ import annotations

import pytest

from matcalc.language.syntax import Assign, BinOp, Call, Name, Neg, Num, Program, Transpose
from matcalc.core.errors import MatcalcError, ParseError
from matcalc.language.parser import MAX_DEPTH, MAX_LENGTH, parse


def r(node) -> str:
    """Render a node fully parenthesised: binary ops and negations in (), transposes as x'."""
    if isinstance(node, Program):
        return "; ".join(r(s) for s in node.statements)
    if isinstance(node, Assign):
        return r(node.value) if node.name is None else f"{node.name} = {r(node.value)}"
    if isinstance(node, Num):
        return node.text
    if isinstance(node, Name):
        return node.id
    if isinstance(node, Neg):
        return f"(-{r(node.operand)})"
    if isinstance(node, Transpose):
        return f"{r(node.operand)}'"
    if isinstance(node, BinOp):
        return f"({r(node.left)} {node.op} {r(node.right)})"
    if isinstance(node, Call):
        return f"{node.func}{chr(39) * node.deriv}({', '.join(r(a) for a in node.args)})"
    raise TypeError(node)


def p(source: str) -> str:
    return r(parse(source))


def expr(source: str):
    program = parse(source)
    assert len(program.statements) == 1
    return program.statements[0].value


def walk(node):
    yield node
    for child in (getattr(node, "operand", None), getattr(node, "left", None),
                  getattr(node, "right", None), *getattr(node, "args", ())):
        if child is not None:
            yield from walk(child)


def error(source: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse(source)
    err = info.value
    assert isinstance(err, MatcalcError) and err.exit_code == 2
    assert err.source == source
    return err


# -- operators, aliases, precedence ------------------------------------------------------------

@pytest.mark.parametrize("source, expected", [
    # primaries
    ("x", "x"), ("W_out", "W_out"), ("b_2", "b_2"), ("_h1", "_h1"), ("lambda", "lambda"),
    ("α*x", "(α * x)"), ("δ", "δ"), ("2", "2"), ("0.5", "0.5"), (".5", ".5"),
    ("1e-3", "1e-3"), ("2.5E+4", "2.5E+4"), ("3.", "3."), ("1.e2", "1.e2"), ("(x)", "x"),
    ("((x))", "x"),
    # binary operators and their aliases
    ("a+b", "(a + b)"), ("a-b", "(a - b)"), ("a − b", "(a - b)"), ("A*B", "(A * B)"),
    ("A@B", "(A * B)"), ("A·B", "(A * B)"), ("A×B", "(A * B)"), ("A⋅B", "(A * B)"),
    ("A.*B", "(A .* B)"), ("A∘B", "(A .* B)"), ("A⊙B", "(A .* B)"),
    ("hadamard(A, B)", "(A .* B)"), ("A/s", "(A / s)"), ("A./B", "(A ./ B)"),
    ("A^k", "(A ^ k)"), ("A**k", "(A ^ k)"), ("A.^k", "(A .^ k)"),
    # postfix operators
    ("x'", "x'"), ("x.T", "x'"), ("Wᵀ", "W'"), ("transpose(A)", "A'"), ("A''", "A''"),
    ("x.T.T", "x''"), ("x.Tᵀ'", "x'''"), ("A⁻¹", "inv(A)"), ("A⁻ᵀ", "inv(A)'"),
    ("A⁻¹ᵀ", "inv(A)'"), ("x²", "(x ^ 2)"), ("‖x‖", "norm(x)"), ("‖x‖²", "(norm(x) ^ 2)"),
    ("‖W*x - y‖²", "(norm(((W * x) - y)) ^ 2)"), ("‖‖x‖*y‖", "norm((norm(x) * y))"),
    ("‖a‖*‖b‖", "(norm(a) * norm(b))"), ("2'", "2'"), ("x.T'", "x''"),
    # lexical corner cases
    ("1./x", "(1 ./ x)"), ("2.*x", "(2 .* x)"), ("2.^x", "(2 .^ x)"), ("2./x", "(2 ./ x)"),
    ("1.5.*x", "(1.5 .* x)"), ("A.*.5", "(A .* .5)"), ("2.T", "2'"), ("x.Tx", None),
    # calls and derivatives
    ("f(z)", "f(z)"), ("f'(z)", "f'(z)"), ("f''(z)", "f''(z)"), ("tanh'(z)", "tanh'(z)"),
    ("sigmoid'(W*x)", "sigmoid'((W * x))"), ("eye(3)", "eye(3)"), ("sum(A, 1)", "sum(A, 1)"),
    ("f ( z )", "f(z)"), ("g()", "g()"), ("dot(x, y)", "dot(x, y)"), ("inv(X)'", "inv(X)'"),
    ("max(0, z)", "max(0, z)"), ("leaky_relu(z, a)", "leaky_relu(z, a)"),
    ("f(g(h(x)))", "f(g(h(x)))"), ("transpose'(x)", "transpose'(x)"),
    # precedence
    ("-x^2", "(-(x ^ 2))"), ("X^2'", "(X ^ 2')"), ("(X^2)'", "(X ^ 2)'"),
    ("A .* B * C", "((A .* B) * C)"), ("A * B .* C", "((A * B) .* C)"),
    ("A / B * C", "((A / B) * C)"), ("a ./ b ./ c", "((a ./ b) ./ c)"),
    ("a^b^c", "(a ^ (b ^ c))"), ("a.^b^c", "(a .^ (b ^ c))"), ("A^-1", "(A ^ (-1))"),
    ("x.^-2", "(x .^ (-2))"), ("a^-b^c", "(a ^ (-(b ^ c)))"), ("a^+b", "(a ^ b)"),
    ("-a*b", "((-a) * b)"), ("a*-b", "(a * (-b))"), ("a--b", "(a - (-b))"), ("--a", "(-(-a))"),
    ("+a", "a"), ("a+ +b", "(a + b)"), ("a-b-c", "((a - b) - c)"), ("a-b+c", "((a - b) + c)"),
    ("a+b*c", "(a + (b * c))"), ("a*b+c*d", "((a * b) + (c * d))"),
    ("a-b*c+d", "((a - (b * c)) + d)"), ("(a+b)*c", "((a + b) * c)"),
    ("u'*W", "(u' * W)"), ("(W*x)'", "(W * x)'"), ("x'*y", "(x' * y)"),
    ("u'*W*x", "((u' * W) * x)"), ("-x'", "(-x')"), ("2*x^2'", "(2 * (x ^ 2'))"),
    ("a^b'", "(a ^ b')"), ("-A⁻¹", "(-inv(A))"), ("x'^2", "(x' ^ 2)"),
    ("1 ./ x.^2", "(1 ./ (x .^ 2))"), ("s - y'*s + 1", "((s - (y' * s)) + 1)"),
    ("(u .* f'(z))*x'", "((u .* f'(z)) * x')"),
    ("-sum(Y .* log_softmax(X*W, 2))", "(-sum((Y .* log_softmax((X * W), 2))))"),
    # reserved-looking and Python-looking names are just names / calls
    ("lambda*x", "(lambda * x)"), ("__import__(os)", "__import__(os)"),
])
def test_structure(source, expected):
    if expected is None:
        error(source)
    else:
        assert p(source) == expected


def test_leaf_values_and_fields():
    num = expr("2.5E+4")
    assert isinstance(num, Num) and num.value == 25000.0 and num.text == "2.5E+4"
    assert expr(".5").value == 0.5 and expr("1e-3").value == pytest.approx(1e-3)
    call = expr("f''(z)")
    assert isinstance(call, Call) and call.func == "f" and call.deriv == 2
    assert expr("tanh'(z)").deriv == 1 and expr("tanh(z)").deriv == 0
    assert isinstance(expr("transpose(A)"), Transpose)
    assert isinstance(expr("A⁻¹"), Call) and expr("A⁻¹").deriv == 0
    square = expr("x²")
    assert square.op == "^" and square.right.value == 2.0 and square.right.text == "2"
    assert isinstance(expr("-x"), Neg)
    assert expr("α").id == "α"


def test_superscripts_are_not_part_of_a_name():
    assert p("Wᵀ*x") == "(W' * x)"
    assert p("Wx²") == "(Wx ^ 2)"
    assert p("Aᵀ⁻¹") == "inv(A')"
    assert p("W1ᵀ*x_2") == "(W1' * x_2)"
    assert "missing operator between 'Wᵀ' and 'x'" in error("Wᵀx").message


# -- programs -------------------------------------------------------------------------------

def test_program_with_semicolons_and_newlines():
    program = parse("z = W*x + b; h = f(z)\ns = u'*h")
    assert [s.name for s in program.statements] == ["z", "h", "s"]
    assert r(program) == "z = ((W * x) + b); h = f(z); s = (u' * h)"
    assert program.source == "z = W*x + b; h = f(z)\ns = u'*h"


def test_bare_expressions_anywhere_and_blank_statements():
    program = parse(";\n x;; y = 2*x ;\n\n y + 1 ;;\n")
    assert [s.name for s in program.statements] == [None, "y", None]
    assert r(program) == "x; y = (2 * x); (y + 1)"


def test_newline_inside_groups_is_whitespace():
    assert p("(a +\n b)") == "(a + b)"
    assert p("f(x,\n  y)\n") == "f(x, y)"
    assert p("‖x\n - y‖") == "norm((x - y))"
    assert p("a\nb") == "a; b"
    assert p("x = (1\n+ 2)\ny = x") == "x = (1 + 2); y = x"


def test_crlf_and_unicode_whitespace():
    assert p("a = 1\r\nb = a\u00a0+\ta") == "a = 1; b = (a + a)"


# -- spans ----------------------------------------------------------------------------------

def test_spans_of_nodes():
    source = "z = W*x + b; s = -u'*f'(z)"
    z, s = parse(source).statements
    assert (z.start, z.end) == (0, 11) and source[z.start:z.end] == "z = W*x + b"
    assert source[z.value.start:z.value.end] == "W*x + b"
    assert source[z.value.left.start:z.value.left.end] == "W*x"
    assert source[s.start:s.end] == "s = -u'*f'(z)"
    prod = s.value
    assert source[prod.left.start:prod.left.end] == "-u'"
    assert source[prod.left.operand.start:prod.left.operand.end] == "u'"
    assert source[prod.right.start:prod.right.end] == "f'(z)"
    assert source[prod.right.args[0].start:prod.right.args[0].end] == "z"


def test_spans_include_parentheses_and_unicode_postfix():
    source = "(W*x)' + ‖x‖² + A⁻ᵀ"
    value = expr(source)
    texts = {source[n.start:n.end] for n in walk(value)}
    assert {"(W*x)'", "(W*x)", "W", "x", "‖x‖²", "‖x‖", "A⁻ᵀ", "A", "²"} <= texts
    assert (value.start, value.end) == (0, len(source))


@pytest.mark.parametrize("source", [
    "z = W*x + b", "-x^2 + 3*(a - b)'", "f'(W*x) .* u'", "a^-b^c", "hadamard(A, B) * x",
    "sum(A, 1) ./ (1 + exp(-z))", "transpose(W*x) * y", "‖W*x - y‖", "x.T*y",
])
def test_every_span_reparses_to_the_same_node(source):
    for statement in parse(source).statements:
        for node in walk(statement.value):
            assert 0 <= node.start < node.end <= len(source)
            assert p(source[node.start:node.end]) == r(node)


# -- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("source, words, location", [
    ("", "empty expression", (1, 1)),
    ("  ;\n ; ", "empty expression", (1, 1)),
    ("(a + b", "unclosed '('", (1, 1)),
    ("x = 2 * (a + (b - c)", "unclosed '('", (1, 9)),
    ("f(x, y", "unclosed '('", (1, 2)),
    ("(a + b; c)", "unclosed '('", (1, 1)),
    ("a + b)", "unmatched ')'", (1, 6)),
    (")", "unmatched ')'", (1, 1)),
    ("‖x", "unclosed '‖'", (1, 1)),
    ("(‖x)", "unclosed '‖'", (1, 2)),
    ("x $ y", "unexpected character '$'", (1, 3)),
    ("x # comment", "unexpected character '#'", (1, 3)),
    ("[1, 2]", "'[' starts an index and must follow what it indexes", (1, 1)),
    ("a\nb = 'os'", "transpose ' needs an operand before it", (2, 5)),
    ('f("os")', "unexpected character '\"'", (1, 3)),
    ("x\u200b", "unexpected character 'U+200B'", (1, 2)),
    ("x.y", "unexpected character '.'", (1, 2)),
    ("x.Tx", "unexpected character '.'", (1, 2)),
    ("x⁻2", "unexpected character '⁻'", (1, 2)),
    ("a +", "expected an expression after '+'", (1, 3)),
    ("a +\nb", "expected an expression after '+'", (1, 3)),
    ("x = ", "expected an expression after '='", (1, 3)),
    ("a * * b", "expected an expression after '*', found '*'", (1, 5)),
    ("a + * b", "expected an expression after '+', found '*'", (1, 5)),
    ("*x", "expected an expression before '*'", (1, 1)),
    ("x;\n/y", "expected an expression before '/'", (2, 1)),
    ("f(x, )", "expected an expression after ','", (1, 6)),
    ("f(x,,y)", "expected an expression after ','", (1, 5)),
    ("()", "empty parentheses", (1, 1)),
    ("-", "expected an expression after '-'", (1, 1)),
    ("A^", "expected an expression after '^'", (1, 2)),
    ("2 W", "missing operator between '2' and 'W'", (1, 3)),
    ("2 W x", "missing operator between '2' and 'W'", (1, 3)),
    ("2x", "missing operator between '2' and 'x'", (1, 2)),
    ("(a+b) c", "missing operator between '(a+b)' and 'c'", (1, 7)),
    ("a (b)", None, None),
    ("x' y", "missing operator between 'x'' and 'y'", (1, 4)),
    ("a ‖b‖", "missing operator between 'a' and '‖'", (1, 3)),
    ("f(a b)", "missing operator between 'a' and 'b'", (1, 5)),
    ("z = 1\ny = 2 3", "missing operator between '2' and '3'", (2, 7)),
    ("W*x = 3", "the left side of '=' must be a name", (1, 1)),
    ("f(x) = 3", "the left side of '=' must be a name", (1, 1)),
    ("x' = 3", "the left side of '=' must be a name", (1, 1)),
    ("a = b = c", "only one '='", (1, 7)),
    ("= 3", "'=' needs a name on its left", (1, 1)),
    ("f(x=1)", "unexpected '='", (1, 4)),
    ("(a, b)", "unexpected ','", (1, 3)),
    ("a, b", "unexpected ','", (1, 2)),
    ("'x", "transpose ' needs an operand before it", (1, 1)),
    ("__import__('os')", "transpose ' needs an operand before it", (1, 12)),
    ("(ᵀ)", "transpose ᵀ needs an operand before it", (1, 2)),
    ("²", "power ² needs an operand before it", (1, 1)),
    ("a + ⁻¹", "inverse ⁻¹ needs an operand before it", (1, 5)),
    ("transpose(A, B)", "transpose takes 1 argument, not 2", (1, 1)),
    ("hadamard(A)", "hadamard takes 2 arguments, not 1", (1, 1)),
    ("1e999", "too large", (1, 1)),
])
def test_errors(source, words, location):
    if words is None:           # `a (b)` is a call of a generic function named a
        assert p(source) == "a(b)"
        return
    err = error(source)
    assert words in err.message
    if location is not None:
        assert err.location() == location
    rendered = str(err)
    assert err.message in rendered and "^" in rendered


def test_missing_operator_suggests_a_product():
    err = error("2 W x")
    assert "no implicit multiplication" in err.message and "2*W" in err.message
    assert (err.pos, err.end) == (2, 3)


def test_newline_hint_after_trailing_operator():
    assert "newline ends the statement" in error("a +\n b").message


def test_error_pointing_at_later_line():
    err = error("z = W*x\nh = f(z\ns = h")
    assert "unclosed '('" in err.message and err.location() == (2, 6)


def test_python_input_is_never_evaluated():
    for source in ["__import__('os').system('echo hi')", "exec('1')", "lambda: 1",
                   "open('/etc/passwd').read()", "x.__class__", "[].__class__"]:
        error(source)
    assert p("__import__(os)") == "__import__(os)"


def test_newline_inside_parentheses_missing_operator_or_missing_paren():
    # the paren is closed later: the problem is the missing operator
    err = error("y = (a\n b)")
    assert "missing operator between 'a' and 'b'" in err.message and err.location() == (2, 2)
    # never closed: the problem is the ')' forgotten at the end of the line
    err = error("z = W*x\nh = f(z\ns = h")
    assert "unclosed '('" in err.message and "end of the line" in err.message
    assert err.location() == (2, 6)
    # a name and '(' on different lines are not a call
    assert "missing operator between 'f' and '('" in error("(f\n(x))").message
    assert p("f\n(x)") == "f; x"


def test_random_garbage_only_ever_raises_parse_error():
    import random
    pieces = ["x", "W", "2", ".5", "1e-3", "f", "f'", "(", ")", ",", "‖", "+", "-", "−", "*",
              "**", ".*", "./", ".^", "^", "/", "@", "∘", "'", ".T", "ᵀ", "⁻¹", "⁻ᵀ", "²", "=",
              ";", "\n", " ", ".", "$", "α", "⁻", "transpose(", "hadamard("]
    rng = random.Random(1234)
    parsed = 0
    for _ in range(3000):
        source = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        try:
            program = parse(source)
        except ParseError as err:
            assert err.source == source and 0 <= err.pos <= len(source)
            assert err.location() is not None
        else:
            parsed += 1
            assert isinstance(program, Program) and program.statements
            for statement in program.statements:
                for node in walk(statement.value):
                    assert 0 <= node.start < node.end <= len(source)
    assert parsed > 50


def test_non_string_input():
    with pytest.raises(ParseError):
        parse(None)  # type: ignore[arg-type]


# -- limits ---------------------------------------------------------------------------------

def test_ten_thousand_nested_parentheses_are_rejected_fast():
    err = error("(" * 10_000 + "x" + ")" * 10_000)     # 20,001 characters: over the length limit
    assert "too long" in err.message
    err = error("(" * 5_000 + "x" + ")" * 5_000)
    assert "nested too deeply" in err.message and str(MAX_DEPTH) in err.message
    assert err.location() == (1, MAX_DEPTH + 1)


def test_nesting_at_the_limit_is_accepted():
    assert p("(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH) == "x"
    assert p("f(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH).startswith("f(f(")
    assert p("‖" * MAX_DEPTH + "x" + "‖" * MAX_DEPTH).startswith("norm(norm(")


@pytest.mark.parametrize("source", [
    "f(" * 5000 + "x" + ")" * 5000,
    "‖" * 5000 + "x" + "‖" * 5000,
    "-" * 5000 + "x",
    "x" + "^x" * 5000,
    "x" + "^-x" * 5000,
    "x" + "'" * 5000,
    "-(" * 3000 + "x" + ")" * 3000,
    "(" * 150 + "x" + "^x" * 100 + ")" * 150,
], ids=["calls", "norms", "minus", "powers", "negative powers", "primes", "minus-parens",
        "parens-and-powers"])
def test_other_deep_nesting_is_rejected(source):
    assert "nested too deeply" in error(source).message


def test_long_flat_expression_parses():
    source = "+".join(["x"] * (MAX_LENGTH // 2 - 1))
    assert len(source) < MAX_LENGTH
    value = expr(source)
    assert isinstance(value, BinOp) and value.op == "+" and value.end == len(source)
    products = expr("*".join(["x"] * (MAX_LENGTH // 2 - 1)))
    assert products.op == "*"
    assert len(parse("x = 1\n" * 2_000).statements) == 2_000
    assert expr("-" * MAX_DEPTH + "x").operand is not None


def test_too_long_input():
    err = error("x+" * 50_000 + "x")
    assert err.message == f"expression too long (100001 characters; the limit is {MAX_LENGTH})"
    assert error("x" * (MAX_LENGTH + 1)).message.startswith("expression too long")
