"""``matcalc serve``: the web page (matcalc.web), served with uvicorn (the ``[web]`` extra)."""
from __future__ import annotations

from matcalc.web.pool import DEFAULT_MEMORY_MB, DEFAULT_TIME_LIMIT, DEFAULT_WORKERS
from matcalc.web.serve import serve


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
                   help=f"address space per worker (default {DEFAULT_MEMORY_MB})")


def run_serve(args) -> int:
    return serve(args.host, args.port, args.open, args.workers, args.time_limit, args.memory_limit)
