"""The start page: what the signed-in person's roles let them do, as large links."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.web import i18n
from app.web.deps import PageUser
from app.web.render import render

router = APIRouter()


@router.get("/")
async def home(request: Request, user: PageUser) -> Response:
    return await render(request, "home.html")


@router.get("/i18n/{lang}.json")
async def messages(lang: str) -> JSONResponse:
    """The translation catalogue for scripts (public: it holds UI text only)."""
    if lang not in i18n.LANGUAGES:
        raise StarletteHTTPException(404)
    return JSONResponse(i18n.catalogue()[lang])
