"""The worked examples as LaTeX documents: every command's full derivation with ``--latex``.

    python worked_examples/latex_pages.py            # write the pages as PNG into docs/latex/
    python worked_examples/latex_pages.py --tex-only  # write the .tex files there instead (not checked in)

Each example of ``generate.EXAMPLES`` becomes one ``article``: its title and paragraph, then each
command (without ``--at`` where it only adds numbers to a result) run with ``--latex`` in-process.
``tests/test_latex_pages.py`` compiles every document with pdflatex and fails on an error or an
overfull box; the PNGs (pdftoppm, 80 dpi) are what the README links to.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from generate import EXAMPLES, Example, quote, run

from matcalc.output.latexsteps import document, latex_text

OUT = HERE.parent / "docs" / "latex"


def _prose(text: str) -> str:
    """A page's paragraph: `code` spans in typewriter, the rest as LaTeX text."""
    parts = re.split(r"`([^`]*)`", text)
    return "".join(rf"\texttt{{{latex_text(p, math=False)}}}" if k % 2 else latex_text(p, math=False)
                   for k, p in enumerate(parts))


def command_latex(argv: list[str]) -> str:
    """What ``matcalc ARGV --latex`` prints, as a document part: a display for a result, the
    steps' paragraphs and displays as they are."""
    out = run(argv + ["--latex"])
    parts = []
    for block in (b for b in out.split("\n\n") if b.strip()):
        if block.startswith((r"\paragraph", r"\begin{align*}", r"\begin{alignat*}")):
            parts.append(block)                      # the steps, the values at a point: text already
            continue
        comments = [line for line in block.split("\n") if line.startswith("%")]
        math = "\n".join(line for line in block.split("\n") if not line.startswith("%"))
        parts += [rf"\paragraph{{{latex_text(c[1:].strip(), math=False)}}}" for c in comments] + [rf"\[{math}\]"]
    return "\n".join(parts)


def example_document(ex: Example) -> str:
    body = [_prose(ex.text)]
    for argv in ex.commands:
        body.append(r"\subsection*{}" + "\n" + r"{\raggedright\texttt{" + latex_text("$ matcalc " + quote(argv), math=False)
                    + r"}\par}")
        body.append(command_latex(argv))
    return document("\n".join(body), ex.title)


def documents() -> dict[str, str]:
    """slug → the LaTeX document of that worked example."""
    return {ex.slug: example_document(ex) for ex in EXAMPLES}


def compile_pdf(tex: str, workdir: Path, name: str = "page") -> tuple[int, str]:
    """pdflatex ``tex`` in ``workdir``: (return code, the log)."""
    (workdir / f"{name}.tex").write_text(tex, encoding="ascii")
    r = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"], cwd=workdir,
                       capture_output=True, timeout=120, check=False)
    log = (workdir / f"{name}.log").read_text(encoding="latin-1") if (workdir / f"{name}.log").exists() else ""
    return r.returncode, log


def main(argv: list[str]) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.png"):
        old.unlink()
    for slug, tex in documents().items():
        if "--tex-only" in argv:                  # for reading; only the pages are checked in
            (OUT / f"{slug}.tex").write_text(tex, encoding="ascii")
            continue
        if not (shutil.which("pdflatex") and shutil.which("pdftoppm")):
            print("pdflatex and pdftoppm are needed for the pages (apt-get install texlive-latex-recommended "
                  "poppler-utils)", file=sys.stderr)
            return 2
        with tempfile.TemporaryDirectory() as tmp:
            code, log = compile_pdf(tex, Path(tmp), slug)
            if code != 0:
                print(f"{slug}: pdflatex failed\n{log[-2000:]}", file=sys.stderr)
                return 1
            subprocess.run(["pdftoppm", "-r", "80", "-png", f"{slug}.pdf", str(OUT / slug)], cwd=tmp, check=True)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
