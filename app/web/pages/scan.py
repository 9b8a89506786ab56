"""Scan station for warehouse staff: goods-in (receipt and VVTT seal check), store, goods-out.

The page is a shell: everything it does goes through the API (`/api/v1/scan`, `/drafts`,
`/statements`, `/handovers`, `/enrolments`) with the session cookie, and every
statement is signed in the browser by the person's non-extractable device key
(`static/js/keys.js`). The server renders no ledger data here that the API would not give.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app.services.sessions import WebSession
from app.web.deps import require_page
from app.web.nav import NavItem
from app.web.render import render

router = APIRouter()
SCAN_ROLES = frozenset({"warehouse", "manufacturer"})
NAV = (NavItem("/scan", "field.nav.scan", SCAN_ROLES, hint="field.nav.scan.hint", order=20),)


@router.get("/scan")
async def scan_station(
    request: Request, user: Annotated[WebSession, Depends(require_page(SCAN_ROLES))]
) -> Response:
    return await render(request, "scan.html")
