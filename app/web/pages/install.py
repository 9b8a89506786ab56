"""Installation at a practice (technicians, phone layout), signed with the device key; works offline.

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
INSTALL_ROLES = frozenset({"technician"})
NAV = (NavItem("/install", "field.nav.install", INSTALL_ROLES, hint="field.nav.install.hint", order=40),)


@router.get("/install")
async def install(
    request: Request, user: Annotated[WebSession, Depends(require_page(INSTALL_ROLES))]
) -> Response:
    return await render(request, "install.html")
