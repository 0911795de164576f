"""Jupyter first (issue 14): what a notebook shows for steps and pictures.

- ``StepList`` is ``Derivation.steps``: still the list of recorded chain-rule steps (``len``,
  indexing, iteration as before), which prints as the Unicode steps (``print(d.steps)``) and
  displays in Jupyter as Markdown with MathJax displays (``_repr_markdown_``), one per node;
- ``Picture`` is what ``Derivation.graph(at=...)`` returns: the computational graph, displayed
  inline as SVG (``_repr_svg_``, the built-in writer, no Graphviz needed), with ``.svg()``,
  ``.dot()`` and ``.save(path)``.

Nothing here derives anything: both print what the derivation already holds.
"""
from __future__ import annotations

from matcalc.core.errors import MatcalcError
from matcalc.output.picture import Model, to_dot, to_svg, write


class StepList(list):
    """The recorded chain-rule steps of a derivation (a ``list``) that prints and displays as
    the explained steps: ``str()`` is the Unicode text, Jupyter shows Markdown with MathJax."""

    def __init__(self, steps=(), derivation=None):
        super().__init__(steps)
        self.derivation = derivation

    def text(self, style: str = "unicode") -> str:
        """The steps in ``style`` (unicode, text, latex, markdown, json, mathjax)."""
        if self.derivation is None:
            raise MatcalcError("these steps belong to no derivation")
        return self.derivation.steps_text(style)      # the derivation picks the chain for its kind

    def latex(self) -> str:
        return self.text("latex")

    def __str__(self) -> str:                 # a Jacobian's chain needs no recorded steps
        if self.derivation is None:
            return list.__repr__(self)
        try:
            return self.text("unicode")
        except MatcalcError as e:
            return e.render()

    def _repr_markdown_(self) -> str:
        if self.derivation is None:
            return f"`{list.__repr__(self)}`"
        try:
            return self.text("mathjax")
        except MatcalcError as e:             # no steps recorded (derive with steps=True), a 4-D result
            return f"*{e.render()}*"

    def _repr_pretty_(self, p, cycle) -> None:         # IPython's text/plain: the Unicode steps
        p.text(str(self))


class Picture:
    """The computational graph as a picture (``d.graph(at=...)``): inline SVG in Jupyter."""

    def __init__(self, model: Model):
        self.model = model

    def svg(self) -> str:
        return to_svg(self.model)

    def dot(self) -> str:
        return to_dot(self.model)

    def save(self, path: str, renderer: str = "auto") -> str:
        """Write ``path`` (.svg, .png or .dot); returns the renderer used."""
        return write(self.model, path, renderer)

    def _repr_svg_(self) -> str:
        return self.svg()

    def __repr__(self) -> str:
        return f"<Picture: {len(self.model.nodes)} nodes, {len(self.model.edges)} edges>"
