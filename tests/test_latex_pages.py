"""Issue 14: the LaTeX of every worked example's full derivation compiles with pdflatex, with no
error and no overfull box, and reads like a textbook (labelled steps, one style per name, no gap
between a function's name and its parenthesis).  The pages, as PNG, are in docs/latex/."""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
from extras import need

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "worked_examples"))

import latex_pages
from generate import EXAMPLES

from matcalc.api import derive
from matcalc.language.program import typed_program
from matcalc.output.latexsteps import document

SLUGS = [ex.slug for ex in EXAMPLES]
LABELS = {"upstream", "fork", "local", "local rule", "Jacobian", "gradient", "chain", "matrix", "entries"}
STEPS = [("tanh(W*x + b)", "x", False), ("norm(W*x)^2", "W", True),        # issue 14's acceptance lines
         ("h = sigmoid(X*W1); Yp = h*W2; L = norm(Yp - Y)^2", "W1,W2", True)]


@pytest.fixture(scope="module")
def documents():
    return latex_pages.documents()


@pytest.mark.parametrize("slug", SLUGS)
def test_every_worked_example_compiles_without_overfull_boxes(slug, documents, tmp_path):
    need(shutil.which("pdflatex") is not None, "pdflatex (apt-get install texlive-latex-recommended)")
    code, log = latex_pages.compile_pdf(documents[slug], tmp_path, slug)
    assert code == 0, log[-3000:]
    problems = [line for line in log.splitlines() if line.startswith(("!", "Overfull", "LaTeX Warning"))]
    assert not problems, "\n".join(problems)
    assert (tmp_path / f"{slug}.pdf").stat().st_size > 0


@pytest.mark.parametrize("slug", SLUGS)
def test_the_pages_are_checked_in(slug):
    assert (ROOT / "docs" / "latex" / f"{slug}-1.png").exists(), "run python worked_examples/latex_pages.py"


def _labelled(tex: str) -> None:
    assert tex.isascii()
    for block in re.findall(r"\\paragraph\{Node\}.*?\\end\{alignat\*\}", tex, re.DOTALL):
        rows = [r for r in block.split("\n") if "&=" in r or r"&\mapsto" in r]
        for row in rows:
            m = re.match(r"&\\quad \\text\{([^}]*)\} \\quad & ", row)
            assert m and m.group(1) in LABELS or row.startswith("&& &= "), row


@pytest.mark.parametrize("slug", SLUGS)
def test_the_documents_are_ascii_and_every_step_is_labelled(slug, documents):
    _labelled(documents[slug])


@pytest.mark.parametrize("expr,wrt,index", STEPS)
def test_jacobian_chain_and_index_steps_compile_labelled(expr, wrt, index, tmp_path):
    """The Jacobian chain (a vector output) and the --index steps share the steps' LaTeX layout."""
    body = derive(expr, wrt, steps=True).steps_text("latex", index=index)
    _labelled(body)
    need(shutil.which("pdflatex") is not None, "pdflatex (apt-get install texlive-latex-recommended)")
    code, log = latex_pages.compile_pdf(document(body, "Steps for " + expr), tmp_path, "steps")
    assert code == 0, log[-3000:]
    assert not [line for line in log.splitlines() if line.startswith(("!", "Overfull"))]


@pytest.mark.parametrize("slug", SLUGS)
def test_functions_have_no_gap_and_names_one_style(slug, documents):
    tex = documents[slug]
    assert not re.search(r"\\operatorname\{[^}]*\}(\^\{[^}]*\})?\\left\(", tex)    # softmax (x)
    assert not re.search(r"(?<![\\a-zA-Z])[a-zA-Z]\\left\(", tex)                  # f (z)
    ex = next(e for e in EXAMPLES if e.slug == slug)
    for argv in ex.commands:
        if "--text" in argv:                          # the ASCII form has no LaTeX face
            continue
        math = latex_pages.command_latex(argv)
        shapes = dict(a.split("=", 1) for a, flag in zip(argv[1:], argv) if flag == "--shape")
        shapes = {k: v if v in ("index", "scalar") else tuple(int(d) if d.isdigit() else d for d in v.split(","))
                  for k, v in shapes.items()}
        typed = typed_program(argv[1], shapes or None, None)
        for name in [*typed.variables, *typed.intermediates]:
            if len(name) > 1 and name.isalpha() and name.isascii():
                bare = re.findall(rf"(?<![\\a-zA-Z{{]){name}(?![a-zA-Z}}])", math)
                assert not bare, f"{name} printed without \\mathrm in {argv}"


def test_a_long_derivation_breaks_across_pages(documents, tmp_path):
    """The 2-layer net's derivation is three pages (one display per node), not one overfull page."""
    need(shutil.which("pdflatex") is not None, "pdflatex (apt-get install texlive-latex-recommended)")
    code, log = latex_pages.compile_pdf(documents["two_layer_net"], tmp_path, "net")
    assert code == 0
    pages = int(re.search(r"Output written on net\.pdf \((\d+) page", log.replace("\n", "")).group(1))
    assert pages >= 2


@pytest.mark.parametrize("name, macro", [("ŷ", r"\hat{y}"), ("ā", r"\bar{a}"), ("ũ", r"\tilde{u}")])
def test_accented_names_are_math_accents_and_compile(name, macro, tmp_path):
    """ŷ (word2vec's prediction) was \\text{ŷ}, which pdflatex cannot typeset in math mode."""
    d = derive(f"{name} = softmax(U'*v); J = -log({name}[o])", "v", shapes={"o": "index"})
    tex = d.latex()
    assert macro in tex and r"\text{" not in tex and tex.isascii()
    need(shutil.which("pdflatex") is not None, "pdflatex (apt-get install texlive-latex-recommended)")
    code, log = latex_pages.compile_pdf(document(f"\\[\n{tex}\n\\]", "accents"), tmp_path, "accents")
    assert code == 0, log[-3000:]
    assert not [line for line in log.splitlines() if line.startswith(("!", "Overfull"))]
