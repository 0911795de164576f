"""``matcalc serve``: the web page (matcalc.web), served with uvicorn (the ``[web]`` extra)."""
from __future__ import annotations

import matcalc
from matcalc.core.errors import MatcalcError
from matcalc.web.limits import DEFAULT_MEMORY_MB, DEFAULT_TIME_LIMIT, DEFAULT_WORKERS

MIN_MEMORY_MB = 64


def add_serve_parser(sub) -> None:
    s = sub.add_parser("serve", help="serve the page: derivatives, steps, graph, code and grading in a browser",
                       epilog="examples:\n  matcalc serve --open\n  matcalc serve --host 0.0.0.0 --port 8080   "
                              "(a class: warns that it is reachable beyond this machine)\n\n"
                              'needs the web extra: pip install "matcalc[web]"')
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    s.add_argument("--open", action="store_true", help="open the page in the default browser")
    s.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                   help=f"worker processes computing requests (default {DEFAULT_WORKERS})")
    s.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT, metavar="SECONDS",
                   help=f"work time per request before its worker is replaced (default {DEFAULT_TIME_LIMIT:g})")
    s.add_argument("--memory-limit", type=int, default=DEFAULT_MEMORY_MB, metavar="MB",
                   help=f"memory one request may allocate in its worker (address space; default {DEFAULT_MEMORY_MB})")


def run_serve(args) -> int:
    if not 0 <= args.port <= 65535:
        raise MatcalcError(f"--port {args.port}: a port is 0 to 65535")
    if args.workers < 1 or not args.time_limit > 0 or args.memory_limit < MIN_MEMORY_MB:
        raise MatcalcError(f"--workers is at least 1, --time-limit above 0 and --memory-limit at least "
                           f"{MIN_MEMORY_MB} MB")
    # through the package's lazy name: parsing arguments must not load the server and the API
    return matcalc.serve(args.host, args.port, args.open, args.workers, args.time_limit, args.memory_limit)
