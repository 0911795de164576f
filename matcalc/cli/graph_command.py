"""``matcalc graph``: the computational graph as DOT, SVG or PNG, with values and gradients."""
from __future__ import annotations

import argparse

import matcalc
from matcalc.cli.options import shapes_and_assumptions
from matcalc.core.errors import MatcalcError
from matcalc.language.program import wrt_names
from matcalc.output.explain import parse_at
from matcalc.output.picture import to_dot, write


def add_graph_command(sub) -> None:
    g = sub.add_parser("graph", help="draw the computational graph (values and gradients with --at)",
                       epilog='examples:\n  matcalc graph "(x+y)*z" --at x=-2,y=5,z=-4 -o graph.svg\n'
                              '  matcalc graph "u\'*f(W*x+b)" -o graph.dot',
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    g.add_argument("expr", help="expression or program in the matcalc language")
    g.add_argument("--wrt", help="variables whose gradients are drawn (default: all)")
    g.add_argument("--shape", action="append", default=[], metavar="NAME=DIMS", help="declare a shape")
    g.add_argument("--assume", action="append", default=[], metavar="NAME=KIND", help="an assumption")
    g.add_argument("--at", metavar="x=-2,y=5,z=-4", help="forward values (green) and gradients (red)")
    g.add_argument("-o", "--output", required=True, help="graph.svg, graph.png or graph.dot ('-' prints DOT)")
    g.add_argument("--precision", type=int, default=3, metavar="DIGITS",
                   help="significant digits of the values on the picture (default 3)")
    g.add_argument("--renderer", choices=["auto", "dot", "builtin"], default="auto",
                   help="Graphviz dot when installed (auto), or the built-in SVG writer")


def run_graph(args) -> int:
    shapes, assume = shapes_and_assumptions(args)
    shapes, assume = shapes or None, assume or None
    wrt = wrt_names(args.wrt) if args.wrt else None
    if not 1 <= args.precision <= 17:
        raise MatcalcError("--precision: give 1 to 17 significant digits")
    model = matcalc.graph_model(args.expr, wrt, shapes, assume, parse_at(args.at) if args.at else None, args.precision)
    if args.output == "-":
        print(to_dot(model), end="")
        return 0
    write(model, args.output, args.renderer)
    print(f"wrote {args.output}")
    return 0
