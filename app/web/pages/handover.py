"""Handovers: the receiver checks each connector and seal of an offer, then countersigns or rejects.

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
HANDOVER_ROLES = frozenset({"manufacturer", "warehouse", "carrier", "technician"})
NAV = (NavItem("/handovers", "field.nav.handover", HANDOVER_ROLES, hint="field.nav.handover.hint", order=30),)


@router.get("/handovers")
async def handovers(
    request: Request, user: Annotated[WebSession, Depends(require_page(HANDOVER_ROLES))]
) -> Response:
    return await render(request, "handover.html")
