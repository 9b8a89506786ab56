"""The page modules, mounted in this order by :func:`app.web.install`.

Explicit, like the API's route list: what a build serves is what this tuple
says. Each module has ``router`` (a FastAPI ``APIRouter``) and may declare
``NAV`` (a tuple of :class:`app.web.nav.NavItem`) for the menu and the start
page. Pages are thin: they call services in ``app/services/`` and render a
template; role gates come from :mod:`app.web.deps`.
"""

from __future__ import annotations

from app.web.pages import admin, audit, auth, connectors, handover, home, install, labels, offline, scan

PAGE_MODULES = (auth, home, connectors, audit, labels, admin, scan, handover, install, offline)
