"""The interactive API docs at ``/docs``: Swagger UI, served entirely from this service.

FastAPI's own docs page loads Swagger UI from a CDN and starts it with an inline script;
this one links the copy vendored under ``/static/vendor/swagger-ui`` (see its README) and
``/static/js/api_docs.js``, which starts it on the OpenAPI document named in the page's
``data-openapi-url``. So ``/docs`` works without internet access and under the same strict
Content-Security-Policy as every other page: nothing inline, no other origin.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

SWAGGER_UI = "/static/vendor/swagger-ui"
PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="referrer" content="no-referrer">
  <title>{title} · API</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="{swagger_ui}/swagger-ui.css">
  <script defer src="{swagger_ui}/swagger-ui-bundle.js"></script>
  <script type="module" src="/static/js/api_docs.js"></script>
</head>
<body>
  <div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
</body>
</html>
"""


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    app = request.app
    return HTMLResponse(
        PAGE.format(
            title=escape(app.title),
            swagger_ui=SWAGGER_UI,
            openapi_url=escape(app.openapi_url or "", quote=True),
        )
    )
