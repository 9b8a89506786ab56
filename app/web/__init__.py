"""The web pages: server-rendered HTML for people, beside the API for machines.

:func:`install` adds everything to the FastAPI app: ``/static`` (our own CSS
and JavaScript — a strict Content-Security-Policy forbids anything inline),
the page routers listed in :data:`app.web.pages.PAGE_MODULES`, their menu
entries, and HTML error pages. Sessions are rows in ``web_sessions``
(:mod:`app.services.sessions`); the API accepts the same cookie
(:func:`app.api.security.current_principal`), with a CSRF header on writes.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.settings import Settings
from app.web import errors
from app.web.nav import NavItem

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI, settings: Settings) -> None:
    from app.web.pages import PAGE_MODULES

    app.state.web_settings = settings
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    nav: list[NavItem] = []
    for module in PAGE_MODULES:
        # Pages are not part of the API contract: keep them out of the OpenAPI document.
        app.include_router(module.router, include_in_schema=False)
        nav.extend(getattr(module, "NAV", ()))
    app.state.web_nav = nav
    errors.install(app)
