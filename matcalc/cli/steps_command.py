"""``matcalc derive --steps`` / ``--index`` / ``--at``: the chain-rule steps (``--index``: in
index notation) and the values at a point."""
from __future__ import annotations

import json

import matcalc
from matcalc.core.errors import VerificationError
from matcalc.output.explain import parse_at, values_text
from matcalc.second_order.index_steps import explain_index


def cli_steps(args, shapes: dict, assume: dict) -> str:
    """What ``matcalc derive ... --steps`` / ``--at`` prints (the CLI prints the returned text)."""
    d = matcalc.derive(args.expr, args.wrt, shapes=shapes or None, assume=assume or None, steps=True)
    if not getattr(args, "no_verify", False):
        report = d.verify()
        if report.status == "mismatch":
            raise VerificationError("internal error: the derived result failed its finite-difference "
                                    f"check ({report.detail}); not printing it. Please report this expression.")
    style = ("json" if args.json else "latex" if args.latex else "markdown" if getattr(args, "markdown", False)
             else "text" if args.text else "unicode")
    parts = []
    if getattr(args, "index", False):
        parts.append(explain_index(d, style))
    elif args.steps:
        parts.append(d.steps_text(style))
    if parts and d.kind == "gradient" and getattr(args, "form", "gradient") in ("jacobian", "both"):
        parts.append(_jacobian_form(d, style))
    if getattr(args, "at", None):
        point = parse_at(args.at)
        if style == "json" and parts:
            payload = json.loads(parts[0])
            payload["at"] = json.loads(values_text(d, point, "json"))
            return json.dumps(payload, ensure_ascii=False, indent=2)
        if not parts:
            parts.append(d.render(style if style in ("text", "latex") else "unicode") if style != "json" else "")
        parts.append(values_text(d, point, style))
    return "\n\n".join(p for p in parts if p)


def _jacobian_form(d, style: str) -> str:
    """The result in the Jacobian form, after steps whose result is the gradient (shape
    convention): ``--form jacobian`` / ``both`` asked for it, and the steps alone would print
    the gradient under the same ∂f/∂x (``2 x`` where ``2 xᵀ`` was asked for)."""
    head = "Jacobian form (numerator layout):"
    if style == "latex":
        return f"% {head}\n" + d.render("latex", "jacobian")
    text = d.render("text" if style == "text" else "unicode", "jacobian")
    if style == "markdown":
        return f"**{head}**\n\n```\n{text}\n```"
    return f"{head}\n  " + text.replace("\n", "\n  ")
