"""The service worker that lets the install page open offline (``static/js/sw.js``).

Served from the site root (``GET /sw.js``) so that its scope is the whole site: it must
see ``/install`` (kept for offline use) and the sign-in and sign-out requests (after
which the kept copy is dropped). It caches nothing else (see the script's header).

The script's ``VERSION`` is filled in here with a digest of every static file and
translation catalogue, so any change to what the worker keeps is a new worker: the
browser installs it, it fetches the new files, and its activation deletes the old caches.
Nobody has to remember to bump a number.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from fastapi import APIRouter
from fastapi.responses import Response

from app.web import STATIC
from app.web.i18n import LOCALES

router = APIRouter()
WORKER = STATIC / "js" / "sw.js"
#: The line of sw.js that carries the version (the file as stored says "dev").
VERSION_LINE = 'const VERSION = "dev";'


@lru_cache(maxsize=1)
def worker_version() -> str:
    """A digest of the static files and translations (what the worker caches, and itself)."""
    digest = hashlib.sha256()
    for root in (STATIC, LOCALES):
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=1)
def worker_script() -> bytes:
    text = WORKER.read_text(encoding="utf-8")
    if VERSION_LINE not in text:
        raise RuntimeError(f"{WORKER.name} lacks the line {VERSION_LINE!r}")
    return text.replace(VERSION_LINE, f'const VERSION = "{worker_version()}";', 1).encode()


@router.get("/sw.js")
async def service_worker() -> Response:
    # Cache-Control: no-store (every page path gets it): the browser looks for a new
    # version on every visit. Content-Type must be a JavaScript type or registration fails.
    # The root scope is this path's own; Service-Worker-Allowed only states it.
    return Response(
        worker_script(),
        media_type="text/javascript; charset=utf-8",
        headers={"Service-Worker-Allowed": "/"},
    )
