"""``matcalc serve``: run the page with uvicorn, warn before serving beyond this machine.

Bound to a loopback address (the default 127.0.0.1) the page is this machine's alone.  Any
other address (``--host 0.0.0.0`` for a class) serves everyone who can reach it: the server says
so on stderr before it starts, since each request costs a worker up to its time limit.
"""
from __future__ import annotations

import ipaddress
import socket
import sys
import threading
import webbrowser

from matcalc.core.errors import MatcalcError
from matcalc.core.optional import optional_module
from matcalc.web.app import INSTALL, build_app
from matcalc.web.pool import WorkerPool


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and ``localhost``: reachable from this machine only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_warning(host: str) -> str | None:
    """The warning printed before binding ``host``, or None for a loopback address."""
    if is_loopback(host):
        return None
    return (f"warning: serving on {host}, not a loopback address: anyone who can reach this machine can "
            "use the page and its workers (each request is limited in time and memory). "
            "Use --host 127.0.0.1 to keep it to this machine.")


def page_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False, workers: int | None = None,
          time_limit: float | None = None, memory_mb: int | None = None) -> int:
    """Serve until interrupted; returns the exit code."""
    uvicorn = optional_module("uvicorn", "matcalc serve", INSTALL)
    sock = listen(host, port)
    port = sock.getsockname()[1]                       # --port 0: the port the system chose
    warning = bind_warning(host)
    if warning:
        print(warning, file=sys.stderr)
    kwargs = {k: v for k, v in (("workers", workers), ("time_limit", time_limit), ("memory_mb", memory_mb))
              if v is not None}
    app = build_app(WorkerPool(**kwargs))
    url = page_url(host, port)
    print(f"matcalc: serving on {url} (Ctrl-C stops)", file=sys.stderr)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, [url]).start()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[sock])
    return 0


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or a ``MatcalcError`` (exit 2) saying why not (a port in use,
    an address this machine does not have) before any worker starts."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as e:
        raise MatcalcError(f"cannot serve on {host}:{port}: {e.strerror or e}") from None
    return sock
