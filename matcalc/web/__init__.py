"""The page (``matcalc serve``): an offline matrixcalculus.org with steps, pictures, code and grading.

A layer above ``api`` (and below ``cli``, which only starts it): ``fields`` reads a request's
form fields, ``tasks`` computes the CLI's ``--json`` objects in a worker, ``pool`` runs workers
with a time and a memory limit, ``app`` is the Starlette application, ``serve`` runs it with
uvicorn.  The page and the bundled KaTeX are package data under ``static/``.  docs/web.md
documents the API.
"""
