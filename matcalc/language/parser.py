"""Parser for the matcalc input language (``/work/shared/LANGUAGE.md``).

Contract: ``parse(source) -> matcalc.ast.Program``.

* A program is statements separated by ``;`` or newlines (blank statements are allowed);
  ``name = expr`` is ``Assign(name, ...)``, a bare expression ``Assign(None, ...)``.  A newline
  inside ``( )`` or ``‖ ‖`` is plain whitespace.
* Precedence, tightest first: primaries (names, numbers, ``( )``, calls, ``‖A‖``); postfix
  ``'  .T  ᵀ  ⁻¹  ⁻ᵀ  ²`` (repeatable); power ``^ ** .^`` (one right-associative level whose
  right operand may carry a unary minus: ``A^-1``); unary ``-`` (``+`` is dropped); products
  ``* @ · × .* ∘ ⊙ / ./`` (one left-associative level); ``+ -``.  No implicit multiplication.
* Aliases are normalised as ``matcalc.ast`` describes; every node carries the ``[start, end)``
  character span of its text (parentheses included).  ``f'(z)`` is ``Call("f", (z,), 1)``.
* Nothing is ever evaluated.  Every problem is a ``ParseError`` pointing at the offending
  text.  Input over ``MAX_LENGTH`` characters and nesting (parentheses, calls, norm bars, unary
  minus and power chains, postfix chains) deeper than ``MAX_DEPTH`` are rejected; left-
  associative levels are parsed with loops, so long flat expressions are fast.
"""
from __future__ import annotations

import dataclasses
import re
from typing import NamedTuple, NoReturn

from matcalc.core.errors import ParseError
from matcalc.language.syntax import Assign, BinOp, Call, Expr, Index, Name, Neg, Num, Program, Transpose

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "parse"]

MAX_LENGTH = 20_000
MAX_DEPTH = 200

# Token kinds.
NUM, NAME, DERIV, OP, POST, LPAR, RPAR, COMMA, BAR, EQ, SEMI, NL, EOF = (
    "num", "name", "deriv", "op", "post", "(", ")", ",", "‖", "=", ";", "newline", "eof")
LBRACK, RBRACK, COLON = "[", "]", ":"

_OPS = {"+": "+", "-": "-", "\u2212": "-", "*": "*", "@": "*", "\u00b7": "*", "\u00d7": "*",
        "\u22c5": "*", "/": "/", "^": "^", "\u2218": ".*", "\u2299": ".*", "**": "^",
        ".*": ".*", "./": "./", ".^": ".^"}
_SINGLE = {"(": LPAR, ")": RPAR, ",": COMMA, "\u2016": BAR, "=": EQ, ";": SEMI, "\n": NL,
           "[": LBRACK, "]": RBRACK, ":": COLON}
_POSTFIX = {"'": "'", ".T": "'", "\u1d40": "'", "\u00b2": "2",      # ' .T ᵀ ²
            "\u207b\u00b9": "inv", "\u207b\u1d40": "invT"}             # ⁻¹ ⁻ᵀ
_TOKEN_RE = re.compile(
    r"(?P<sp>[^\S\n]+)"
    r"|(?P<num>(?:[0-9]+(?:\.(?![*/^])[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<op>\*\*|\.[*/^]|[-+*/^@\u00b7\u00d7\u22c5\u2212\u2218\u2299])"
    r"|(?P<post>'|\.T|\u1d40|\u00b2|\u207b[\u00b9\u1d40])"
    r"|(?P<name>\w+)"
    r"|(?P<one>[\n(),\u2016=;\[\]:])")
_MISPLACED = {COMMA: "unexpected ',' (commas only separate the arguments of a function call)",
              EQ: "unexpected '=' ('=' may only follow a name at the start of a statement)"}
_POWERS = ("^", ".^")
_SIGNS = ("+", "-")
_OPERAND_START = (NUM, NAME, DERIV, LPAR)
_HINTS = {**dict.fromkeys("{}", "braces are not part of the language; use parentheses"),
          "#": "comments are not supported", '"': "strings are not part of the language",
          "|": "write norm(A) or ‖A‖ for a norm, abs(x) for an absolute value",
          "\u207b": "only ⁻¹ (inverse) and ⁻ᵀ (inverse transpose) are superscripts"}


class _Tok(NamedTuple):
    kind: str
    value: str      # normalised operator, name, number text or postfix kind
    start: int
    end: int
    primes: int = 0  # for DERIV: the number of primes of f'(...)


def _name_start(c: str) -> bool:
    return c == "_" or (c.isalpha() and c != "\u1d40")


def _name_char(c: str) -> bool:
    return c == "_" or c.isdecimal() or (c.isalpha() and c != "\u1d40")


def _dot_is_operator(src: str, j: int) -> bool:
    """Whether the ``.`` at ``j`` starts ``.* ./ .^`` or the postfix ``.T``."""
    nxt = src[j + 1: j + 2]
    if nxt and nxt in "*/^":
        return True
    return nxt == "T" and not (j + 2 < len(src) and _name_char(src[j + 2]))


def _show(c: str) -> str:
    return c if c.isprintable() and not c.isspace() else f"U+{ord(c):04X}"


def _tokenize(src: str) -> list[_Tok]:
    toks: list[_Tok] = []
    append = toks.append
    match_at = _TOKEN_RE.match
    new = tuple.__new__     # builds a _Tok without NamedTuple's Python-level __new__
    i, n = 0, len(src)
    while i < n:
        m = match_at(src, i)
        if m is None or (m.lastgroup == "name" and not _name_start(src[i])):
            c = src[i]
            hint = f" ({_HINTS[c]})" if c in _HINTS else ""
            raise ParseError(f"unexpected character '{_show(c)}'{hint}", src, i, i + 1)
        kind, j = m.lastgroup, m.end()
        if kind == "name":
            if not src[i:j].isascii():      # \w also matches ᵀ ² ½ ...: keep the real name
                j = i + 1
                while j < n and _name_char(src[j]):
                    j += 1
            k = j
            while k < n and src[k] == "'":
                k += 1
            if k > j and src[k: k + 1] == "(":           # f'(z): a derivative call
                append(new(_Tok, (DERIV, src[i:j], i, k, k - j)))
                j = k
            else:
                append(new(_Tok, (NAME, src[i:j], i, j, 0)))
        elif kind == "op":
            append(new(_Tok, (OP, _OPS[m.group()], i, j, 0)))
        elif kind == "num":
            if src[j - 1] == "." and _dot_is_operator(src, j - 1):   # 2.T is 2 transposed
                j -= 1
            append(new(_Tok, (NUM, src[i:j], i, j, 0)))
        elif kind == "one":
            append(new(_Tok, (_SINGLE[src[i]], src[i], i, j, 0)))
        elif kind == "post":
            if j - i == 2 and src[i] == "." and not _dot_is_operator(src, i):   # x.Tx
                raise ParseError("unexpected character '.'", src, i, i + 1)
            append(new(_Tok, (POST, _POSTFIX[m.group()], i, j, 0)))
        i = j
    append(_Tok(EOF, "", n, n))
    return toks


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 24 else text[:21] + "..."


class _Parser:
    def __init__(self, src: str, toks: list[_Tok]):
        self.src = src
        self.toks = toks
        self.i = 0
        self.groups = 0                 # open ( and ‖: newlines are whitespace inside them
        self.depth = 0
        self.prev: _Tok | None = None   # the last token consumed
        self.last: Expr | None = None   # the last complete operand (for error messages)

    # -- tokens ---------------------------------------------------------------------------
    def peek(self) -> _Tok:
        if self.groups:
            while self.toks[self.i].kind == NL:
                self.i += 1
        return self.toks[self.i]

    def advance(self) -> _Tok:
        """Consume the token the last ``peek`` returned."""
        tok = self.toks[self.i]
        if tok.kind != EOF:
            self.i += 1
        self.prev = tok
        return tok

    def text(self, tok: _Tok) -> str:
        return self.src[tok.start: tok.end]

    def fail(self, message: str, start: int, end: int | None = None) -> NoReturn:
        raise ParseError(message, self.src, start, end)

    def enter(self, tok: _Tok) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"expression nested too deeply (more than {MAX_DEPTH} levels)",
                      tok.start, tok.end)

    # -- statements -----------------------------------------------------------------------
    def program(self) -> Program:
        statements: list[Assign] = []
        while True:
            tok = self.peek()
            if tok.kind == EOF:
                break
            if tok.kind in (SEMI, NL):
                self.advance()
                continue
            statements.append(self.statement())
            tok = self.peek()
            if tok.kind not in (SEMI, NL, EOF):
                self.fail_after_operand(tok, None)
        if not statements:
            self.fail("empty expression", 0, len(self.src) or None)
        return Program(tuple(statements), self.src)

    def statement(self) -> Assign:
        tok = self.peek()
        if tok.kind == NAME and self.toks[self.i + 1].kind == EQ:
            self.advance()
            self.advance()
            value = self.expr()
            extra = self.peek()
            if extra.kind == EQ:
                self.fail("a statement may contain only one '='", extra.start, extra.end)
            return Assign(tok.value, value, tok.start, value.end)
        value = self.expr()
        if self.peek().kind == EQ:
            lhs = self.src[value.start: value.end]
            self.fail(f"the left side of '=' must be a name, not '{_snippet(lhs)}'",
                      value.start, value.end)
        return Assign(None, value, value.start, value.end)

    # -- expressions ----------------------------------------------------------------------
    def expr(self) -> Expr:
        """Sums of products, both left-associative, in one loop."""
        total: Expr | None = None
        total_op = ""
        prod = self.operand()
        while True:
            tok = self.peek()
            if tok.kind != OP:
                break
            self.advance()
            right = self.operand()
            if tok.value in _SIGNS:
                total = prod if total is None else BinOp(total_op, total, prod, total.start,
                                                         prod.end)
                total_op, prod = tok.value, right
            else:
                prod = BinOp(tok.value, prod, right, prod.start, right.end)
        return prod if total is None else BinOp(total_op, total, prod, total.start, prod.end)

    def signs(self) -> list[_Tok]:
        """Leading unary signs; ``+`` is dropped, each ``-`` is one nesting level."""
        minus: list[_Tok] = []
        while True:
            tok = self.peek()
            if tok.kind != OP or tok.value not in _SIGNS:
                return minus
            self.advance()
            if tok.value == "-":
                self.enter(tok)
                minus.append(tok)

    @staticmethod
    def negate(minus: list[_Tok], node: Expr) -> Expr:
        for tok in reversed(minus):
            node = Neg(node, tok.start, node.end)
        return node

    def operand(self) -> Expr:
        """Unary signs and a right-associative power chain, parsed iteratively."""
        saved = self.depth
        lead = self.signs() if self.peek().kind == OP else []
        node = self.atom()
        tok = self.peek()
        if tok.kind == OP and tok.value in _POWERS:
            items, ops, negs = [node], [], []
            while tok.kind == OP and tok.value in _POWERS:
                self.advance()
                self.enter(tok)
                ops.append(tok)
                negs.append(self.signs())
                items.append(self.atom())
                tok = self.peek()
            node = items[-1]
            for k in range(len(ops) - 1, -1, -1):
                node = self.negate(negs[k], node)
                node = BinOp(ops[k].value, items[k], node, items[k].start, node.end)
        self.depth = saved
        return self.negate(lead, node) if lead else node

    def atom(self) -> Expr:
        """A primary, then any postfix operators.  ``( )``, ``‖ ‖`` and calls are handled inline
        so that one nesting level costs three Python frames (expr, operand, atom)."""
        tok = self.peek()
        kind = tok.kind
        if kind == NUM:
            self.advance()
            value = float(tok.value)
            if value == float("inf"):
                self.fail(f"number '{_snippet(tok.value)}' is too large", tok.start, tok.end)
            node: Expr = Num(value, tok.value, tok.start, tok.end)
        elif kind == NAME and self.toks[self.i + 1].kind != LPAR:
            self.advance()
            node = Name(tok.value, tok.start, tok.end)
        elif kind in (NAME, DERIV, LPAR, BAR):
            head = self.advance()
            func = head.value if kind in (NAME, DERIV) else None
            opener = self.advance() if func is not None else head   # '(' follows directly
            closer = BAR if opener.kind == BAR else RPAR
            self.enter(opener)
            self.groups += 1
            args: list[Expr] = []
            if func is None or self.peek().kind != RPAR:
                while True:
                    args.append(self.expr())
                    tok = self.peek()
                    if tok.kind == COMMA and func is not None:
                        self.advance()
                    elif tok.kind == closer:
                        break
                    else:
                        self.fail_after_operand(tok, opener)
            end = self.advance().end
            self.groups -= 1
            self.depth -= 1
            node = self.make_group(head, func, args, end)
        else:
            self.fail_operand(tok)
        count = 0
        post = self.peek()
        while post.kind in (POST, LBRACK):
            self.advance()
            count += 1
            if count > MAX_DEPTH:
                self.fail(f"expression nested too deeply (more than {MAX_DEPTH} levels)",
                          post.start, post.end)
            if post.kind == LBRACK:
                node = self.index(node, post)
            elif post.value == "'":
                node = Transpose(node, node.start, post.end)
            elif post.value == "2":
                node = BinOp("^", node, Num(2.0, "2", post.start, post.end), node.start,
                             post.end)
            else:
                inv = Call("inv", (node,), 0, node.start, post.end)
                node = inv if post.value == "inv" else Transpose(inv, node.start, post.end)
            post = self.peek()
        self.last = node
        return node

    def index(self, base: Expr, opener: _Tok) -> Expr:
        """``base[i]`` or ``base[i, j]`` after the ``[``: each index an integer literal counted
        from 1, a name (an index name) or ``:``."""
        self.groups += 1
        items: list = []
        while True:
            tok = self.peek()
            if tok.kind == COLON:
                self.advance()
                items.append(None)
            elif tok.kind == NUM:
                self.advance()
                value = float(tok.value)
                if value != int(value) or value < 1 or not tok.value.isdigit():
                    self.fail(f"an index is an integer counted from 1, not '{_snippet(tok.value)}'",
                              tok.start, tok.end)
                items.append(Num(value, tok.value, tok.start, tok.end))
            elif tok.kind == NAME and self.toks[self.i + 1].kind in (COMMA, RBRACK, NL):
                self.advance()
                items.append(Name(tok.value, tok.start, tok.end))
            elif tok.kind == RBRACK:
                self.fail("empty brackets: write x[i], A[i, j], A[:, j] or A[i, :]", opener.start, tok.end)
            else:
                self.fail("an index is an integer literal (from 1), an index name or ':'",
                          tok.start, tok.end)
            tok = self.peek()
            if tok.kind == COMMA:
                self.advance()
                continue
            if tok.kind == RBRACK:
                break
            found = "the end of the input" if tok.kind == EOF else f"'{self.text(tok)}'"
            self.fail(f"unclosed '[': expected ']' or ',' before {found}", opener.start, opener.end)
        end = self.advance().end
        self.groups -= 1
        if len(items) > 2:
            self.fail("at most two indices: x[i] or A[i, j]", opener.start, end)
        if items == [None]:
            self.fail("x[:] selects everything; write x", opener.start, end)
        if items == [None, None]:
            self.fail("A[:, :] selects everything; write A", opener.start, end)
        return Index(base, tuple(items), base.start, end)

    def make_group(self, head: _Tok, func: str | None, args: list[Expr], end: int) -> Expr:
        """The node of ``( x )``, ``‖ x ‖`` or ``func(args)`` spanning ``[head.start, end)``."""
        start = head.start
        if head.kind == BAR:
            return Call("norm", (args[0],), 0, start, end)
        if func is None:
            return dataclasses.replace(args[0], start=start, end=end)
        if head.primes == 0 and func in ("transpose", "hadamard"):
            want = 1 if func == "transpose" else 2
            if len(args) != want:
                self.fail(f"{func} takes {want} argument{'s' * (want > 1)}, not {len(args)}",
                          start, end)
            if func == "transpose":
                return Transpose(args[0], start, end)
            return BinOp(".*", args[0], args[1], start, end)
        return Call(func, tuple(args), head.primes, start, end)

    # -- errors ---------------------------------------------------------------------------
    def fail_operand(self, tok: _Tok) -> NoReturn:
        """An operand was expected but ``tok`` was found."""
        text, prev = self.text(tok), self.prev
        if tok.kind == POST:
            what = "power" if tok.value == "2" else "transpose" if tok.value == "'" else "inverse"
            self.fail(f"{what} {text} needs an operand before it", tok.start, tok.end)
        if tok.kind == RPAR and self.groups == 0:
            self.fail("unmatched ')'", tok.start, tok.end)
        if tok.kind == LBRACK:
            self.fail("'[' starts an index and must follow what it indexes (x[i], A[:, j]); there are no "
                      "bracketed matrix literals", tok.start, tok.end)
        if tok.kind in (RBRACK, COLON):
            self.fail(f"unexpected '{text}' outside an index", tok.start, tok.end)
        if prev is None or prev.kind in (SEMI, NL):
            if tok.kind == EQ:
                self.fail("'=' needs a name on its left", tok.start, tok.end)
            self.fail(f"expected an expression before '{text}'", tok.start, tok.end)
        if prev.kind == LPAR and tok.kind == RPAR:
            self.fail("empty parentheses: expected an expression inside '()'",
                      prev.start, tok.end)
        message = f"expected an expression after '{self.text(prev)}'"
        if tok.kind in (EOF, SEMI, NL):
            if tok.kind == NL:
                message += " (a newline ends the statement; use parentheses to continue it)"
            self.fail(message, prev.start, prev.end)
        self.fail(f"{message}, found '{text}'", tok.start, tok.end)

    def closed_later(self) -> bool:
        """Whether a ')' closes the innermost open '(' before the statement ends."""
        level = 0
        for tok in self.toks[self.i:]:
            if tok.kind in (SEMI, EOF) or (tok.kind == RPAR and level == 0):
                return tok.kind == RPAR
            level += (tok.kind == LPAR) - (tok.kind == RPAR)
        return False

    def fail_after_operand(self, tok: _Tok, opener: _Tok | None) -> NoReturn:
        """A complete operand is followed by ``tok``, which cannot follow it here."""
        text = self.text(tok)
        closer = None if opener is None else (BAR if opener.kind == BAR else RPAR)
        starts_operand = tok.kind in _OPERAND_START or (tok.kind == BAR and closer != BAR)
        if (starts_operand and closer == RPAR and "\n" in self.src[self.prev.end: tok.start]
                and not self.closed_later()):                    # a ')' forgotten at line end
            self.fail(f"unclosed '{self.text(opener)}': expected ')' before the end of the line",
                      opener.start, opener.end)
        if starts_operand:
            left = _snippet(self.src[self.last.start: self.last.end]) if self.last else "?"
            message = f"missing operator between '{left}' and '{text}'"
            if tok.kind in (NUM, NAME) and len(left) + len(text) <= 24:
                message += f" (there is no implicit multiplication: write '{left}*{text}')"
            else:
                message += " (there is no implicit multiplication: write '*')"
            self.fail(message, tok.start, tok.end)
        if tok.kind in _MISPLACED:
            self.fail(_MISPLACED[tok.kind], tok.start, tok.end)
        if opener is None:
            if tok.kind == RPAR:
                self.fail("unmatched ')'", tok.start, tok.end)
            self.fail(f"unexpected '{text}'", tok.start, tok.end)
        found = "the end of the input" if tok.kind == EOF else f"'{text}'"
        self.fail(f"unclosed '{self.text(opener)}': expected '{closer}' before {found}",
                  opener.start, opener.end)


def parse(source: str, max_length: int | None = MAX_LENGTH) -> Program:
    """Parse a matcalc program; raise ``ParseError`` (pointing at the problem) if it is not one.

    ``max_length=None`` lifts the length limit for matcalc's own printed text, which the
    verification parses back: a 500-statement program's gradient prints longer than its input
    (the nesting limit still holds, and the printer keeps under it)."""
    if not isinstance(source, str):
        raise ParseError(f"the expression must be a string, not {type(source).__name__}")
    if max_length is not None and len(source) > max_length:
        raise ParseError(f"expression too long ({len(source)} characters; the limit is "
                         f"{max_length})", source, max_length)
    parser = _Parser(source, _tokenize(source))
    try:
        return parser.program()
    except RecursionError:      # a safety net only: MAX_DEPTH keeps the recursion short
        tok = parser.toks[min(parser.i, len(parser.toks) - 1)]
        raise ParseError(f"expression nested too deeply (more than {MAX_DEPTH} levels)",
                         source, tok.start, tok.end) from None
