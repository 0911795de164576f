"""The page's default limits, in a module of their own: ``matcalc serve --help`` shows them
without loading the server, its workers or the API behind them."""
from __future__ import annotations

import os

DEFAULT_WORKERS = max(1, min(4, os.cpu_count() or 1))
DEFAULT_TIME_LIMIT = 10.0       # seconds of work per request
DEFAULT_MEMORY_MB = 1024        # address space one request may add to an idle worker's
