"""The ASGI application: the page, its scripts and fonts (package data), and the JSON API.

``GET /`` is the page (``static/index.html``); ``GET /static/...`` its script, style sheet and
the bundled KaTeX (script, style sheet, fonts, license), so nothing is fetched from elsewhere;
``POST /api/{op}`` (``derive``, ``steps``, ``graph``, ``codegen``, ``hessian``, ``check``,
``point``) answers with the JSON the CLI prints with ``--json`` (docs/web.md), computed in a
worker process with a time and memory limit (``matcalc.web.pool``).  A body over
``MAX_BODY`` bytes is refused before it is read whole.  Every response forbids loading
anything from another origin (a Content-Security-Policy of ``'self'``).

Starlette is an optional extra (``pip install "matcalc[web]"``), loaded through
``core.optional`` when the app is built.
"""
from __future__ import annotations

import contextlib
import json
from importlib import resources

from matcalc.core.optional import optional_module
from matcalc.language.parser import MAX_LENGTH
from matcalc.web.fields import TEXT_FIELDS
from matcalc.web.pool import WorkerPool
from matcalc.web.tasks import TASKS, limit_payload

INSTALL = 'pip install "matcalc[web]"'
MAX_BODY = len(TEXT_FIELDS) * MAX_LENGTH * 4 + 1024      # every field at its limit, UTF-8, plus the JSON
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self'; "
       "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'")


def _starlette(name: str):
    return optional_module(name, "matcalc serve", INSTALL)


def build_app(pool: WorkerPool):
    """The Starlette application around ``pool`` (started and stopped with the app's lifespan)."""
    applications = _starlette("starlette.applications")
    responses = _starlette("starlette.responses")
    routing = _starlette("starlette.routing")
    staticfiles = _starlette("starlette.staticfiles")
    middleware = _starlette("starlette.middleware")

    async def page(request):
        return responses.FileResponse(_static_path("index.html"), media_type="text/html; charset=utf-8")

    async def api(request):
        op = request.path_params["op"]
        if op not in TASKS:
            return responses.JSONResponse(limit_payload("NotFoundError", f"unknown operation {op!r}"), 404)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return responses.JSONResponse(limit_payload("TooLongError", f"request body over {MAX_BODY} bytes"), 413)
        try:
            data = json.loads(body.decode("utf-8") or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:   # RecursionError: [[[[...
            return responses.JSONResponse(limit_payload("ParseError", f"the request body is not JSON: {e}"), 400)
        status, payload = await pool.run(op, data)
        return responses.JSONResponse(payload, status)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await pool.start()
        try:
            yield
        finally:
            await pool.close()

    class Headers:
        """Pure ASGI middleware: the Content-Security-Policy and no-sniff on every response."""

        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            async def send_with_headers(message):
                if message["type"] == "http.response.start":
                    message.setdefault("headers", [])
                    message["headers"] = list(message["headers"]) + [
                        (b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                        (b"referrer-policy", b"no-referrer")]
                await send(message)
            await self.app(scope, receive, send_with_headers)

    routes = [routing.Route("/", page), routing.Route("/api/{op}", api, methods=["POST"]),
              routing.Mount("/static", staticfiles.StaticFiles(packages=[("matcalc.web", "static")]), name="static")]
    return applications.Starlette(routes=routes, lifespan=lifespan, middleware=[middleware.Middleware(Headers)])


def _static_path(name: str) -> str:
    """A file of the package's ``static`` folder (package data in the wheel)."""
    return str(resources.files("matcalc.web") / "static" / name)
