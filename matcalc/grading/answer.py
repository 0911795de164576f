"""Reading an answer: untrusted text parsed by matcalc's grammar in the context of the question.

``read(text, question)`` returns the answer as a typed graph node, built together with the
question's program (so the answer may use its inputs and intermediates, ``f'`` of its generic
functions and the Unicode symbols), or a ``Rejected`` saying why it cannot be graded: too long,
empty, unparsable, redefining an input, naming something the question does not define, an
invalid expression in that context, or too large.  Never ``eval``: bounded length, nesting (the
parser) and graph size.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from matcalc.core.errors import MatcalcError
from matcalc.core.graph import Node, topo_order
from matcalc.core.rules import RESERVED
from matcalc.language import syntax as ast
from matcalc.language.parser import MAX_LENGTH, parse
from matcalc.language.shapes import Typed, build, names_in

MAX_ANSWER_CHARS = MAX_LENGTH    # as long as an input: matcalc's own answer to a 200-statement program is 10,119
MAX_ANSWER_NODES = 5_000


@dataclass(frozen=True)
class Rejected:
    """An answer that cannot be graded: ``diagnosis`` is ``unreadable`` or ``invalid``."""

    diagnosis: str
    reason: str


@dataclass(frozen=True)
class Question:
    """What an answer is read against: the question's typed program, the variable differentiated
    by, every variable node of the derivation, and the caller's shapes and assumptions."""

    typed: Typed
    wrt: str
    variables: dict[str, Node]
    shapes: dict | None
    assume: dict | None


def read(text: str, q: Question) -> tuple[Node, Typed] | Rejected:
    """The answer's node and the combined typed program, or why the answer cannot be graded."""
    if len(text) > MAX_ANSWER_CHARS:
        return Rejected("unreadable", f"Your answer is too long to check ({len(text)} characters; "
                        f"the limit is {MAX_ANSWER_CHARS}).")
    if not text.strip():
        return Rejected("unreadable", "Your answer is empty.")
    try:
        prog = parse(text)
    except MatcalcError as e:
        return Rejected("unreadable", "Your answer could not be read: " + one_line(e) + "." + pretty_hint(text))
    got = _renamed(text, prog, q)
    if isinstance(got, Rejected):
        return got
    src = got
    declared = _declared_shapes(q)
    combined_src = q.typed.source + "\n" + src
    offset = len(q.typed.source) + 1
    try:      # no length limit: the question and the answer were each parsed within theirs
        typed = build(parse(combined_src, max_length=None), declared, q.assume, sizes=True)
    except MatcalcError as e:
        msg = e.message
        if e.pos is not None and e.pos >= offset:
            msg = one_line(MatcalcError(e.message, src, e.pos - offset, None if e.end is None
                                        else e.end - offset))
        return Rejected("invalid", f"Your answer is not a valid expression here: {msg}.")
    extra = [n for n in typed.variables if n not in q.typed.variables and n != q.wrt]
    if extra:
        return _undefined(extra, q)
    node = typed.output
    if len(topo_order([node])) > MAX_ANSWER_NODES:
        return Rejected("invalid", "Your answer is too large to check.")
    return node, typed


_PRETTY_ONLY = "ᵀ∘−⊘⁻¹²³‖σ₀₁₂₃₄₅₆₇₈₉"           # symbols of the pretty output (some are input too)
_PRETTY_WORDS = (("⁻¹", "^(-1)"), ("²", "^2"), ("³", "^3"), ("ᵀ", "'"), ("∘", ".*"), ("⊘", "./"), ("−", "-"),
                 ("σ(", "sigmoid("))
_SUBSCRIPT_DIGITS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_JUXTAPOSED = re.compile(r"(?<=[A-Za-z0-9_)'\]])(\s+)(?=[A-Za-z0-9_(])")   # operand, spaces, operand
_TRANSPOSE_THEN = re.compile(r"ᵀ(?=[A-Za-z(])")                              # xᵀz, Xᵀ(...): a product


def pretty_hint(text: str) -> str:
    """For an answer written like matcalc's pretty output (``2 W x xᵀ``: products by juxtaposition,
    which the language does not have), the sentence that names the --text form to paste, with the
    answer's own text respelled that way when the respelling parses ("" otherwise)."""
    juxtaposed = _JUXTAPOSED.search(text) is not None or _TRANSPOSE_THEN.search(text) is not None
    if not juxtaposed:
        return ""
    guess = _TRANSPOSE_THEN.sub("'*", text)
    for old, new in _PRETTY_WORDS:
        guess = guess.replace(old, new)
    guess = _JUXTAPOSED.sub("*", guess.translate(_SUBSCRIPT_DIGITS)).replace(")(", ")*(")
    guess = re.sub(r"‖([^‖]+)‖", r"norm(\1)", guess)
    try:
        parse(guess)
    except MatcalcError:
        guess = ""
    pretty = any(c in text for c in _PRETTY_ONLY)
    if pretty:
        lead = (" This looks like matcalc's pretty output, which is not input (products there are written "
                "side by side): paste the --text form (matcalc derive --text prints it)")
        return lead + (f"; your answer in that form is {guess}." if guess else ".")
    return f" Products need '*': {guess}." if guess else ""


def _renamed(text: str, prog, q: Question) -> str | Rejected:
    """The answer's source with its restatements of the program's intermediates renamed (its own
    definition shadows the program's), or why it may not be read: it redefines an input or uses
    a name nothing defines."""
    inputs = set(q.typed.variables) | {q.wrt}
    inter = q.typed.intermediates
    renames = []                       # (start, old, new) for restated intermediates
    current: dict[str, str] = {}       # a restated intermediate -> its answer's name so far
    for i, st in enumerate(prog.statements):    # one pass: a statement's value reads the names before it
        if current:
            renames += [(pos, name, current[name]) for pos, name in name_uses(st.value) if name in current]
        if st.name is None:
            continue
        if st.name in inputs:
            return Rejected("invalid", f"Your answer assigns {st.name}, which is an input of the "
                            "expression; an answer may not redefine it.")
        if st.name in inter:
            current[st.name] = f"_answer{i}_{st.name}"
            renames.append((st.start, st.name, current[st.name]))
    known = set(inputs) | set(inter) | {d for shp in _declared_shapes(q).values() if isinstance(shp, tuple)
                                        for d in shp if isinstance(d, str)}   # a size: ones(n)/n
    for st in prog.statements:
        unknown = [n for n in dict.fromkeys(names_in(st.value)) if n not in known and n not in RESERVED]
        if unknown:
            return _undefined(unknown, q)
        if st.name is not None:
            known.add(st.name)
    pieces, done = [], 0
    for start, old, new in sorted(renames):
        pieces += [text[done:start], new]
        done = start + len(old)
    return "".join(pieces) + text[done:]


def _undefined(names: list[str], q: Question) -> Rejected:
    known = ", ".join(list(q.typed.variables) + list(q.typed.intermediates))
    sizes = _size_names(q)
    hint = (f"; its sizes: {', '.join(f'{d} = size({v}, {k})' for d, (v, k) in sizes.items())}, "
            "or name your own with --shape, shapes= in Python") if sizes else ""
    return Rejected("invalid", f"Your answer uses {', '.join(names)}, which the expression does not "
                    f"define (its names: {known}{hint}).")


def _size_names(q: Question) -> dict[str, tuple[str, int]]:
    """Each named size of the question's variables with where it is first read (``n`` →
    ``("X", 1)``): what a batch size such as ``N`` in an answer should have been written as."""
    sizes: dict[str, tuple[str, int]] = {}
    for name, node in q.typed.variables.items():
        for k, d in ((1, node.rows), (2, node.cols)):
            if getattr(d, "is_Symbol", False) and str(d) not in sizes:
                sizes[str(d)] = (name, k)
    return sizes


def _declared_shapes(q: Question) -> dict:
    """The shapes the answer is built with: every variable's, or the caller's where one is not
    a plain name or number."""
    declared = {}
    for name, v in {**q.variables, **q.typed.variables}.items():
        shp = declared_shape(v)
        if shp is None:
            return dict(q.shapes or {})
        declared[name] = shp
    return declared


def name_uses(node) -> list[tuple[int, str]]:
    """(start offset, name) of every name used in an expression's syntax tree."""
    out: list[tuple[int, str]] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Name):
            out.append((n.start, n.id))
        elif isinstance(n, (ast.Neg, ast.Transpose)):
            stack.append(n.operand)
        elif isinstance(n, ast.BinOp):
            stack += [n.left, n.right]
        elif isinstance(n, ast.Call):
            stack += list(n.args)
        elif isinstance(n, ast.Index):
            stack.append(n.base)
    return out


def one_line(e: MatcalcError) -> str:
    """An error message with its position, for a sentence of a verdict."""
    loc = e.location()
    msg = e.message.rstrip(".")
    return f"{msg} (at column {loc[1]})" if loc and loc[0] == 1 else (
        f"{msg} (line {loc[0]}, column {loc[1]})" if loc else msg)


def declared_shape(v: Node):
    """A variable's shape as ``--shape`` would declare it (numbers and names), or None."""
    if v.attrs[2] == "index":                  # an index name stays one
        return "index"
    ndim = v.attrs[1]
    dims = []
    for d in v.shape[:ndim] if ndim else ():
        if d.is_Integer:
            dims.append(int(d))
        elif d.is_Symbol:
            dims.append(d.name)
        else:
            return None
    return tuple(dims)
