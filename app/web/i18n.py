"""Translations: every ``locales/*.<lang>.json`` merged per language; German first.

Files are flat ``{"key": "text"}`` objects; several files per language (``core``,
``field`` …) are merged, and a key defined twice is an error at start rather
than a silent override. A missing key falls back to German, then to the key
itself, so a page never fails for want of a string.

The language of a request: ``?lang=xx`` (remembered in a cookie), else the
cookie, else the best ``Accept-Language`` match, else German.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from starlette.requests import Request

LOCALES = Path(__file__).parent / "locales"
DEFAULT_LANG = "de"
LANGUAGES = ("de", "en")
LANG_COOKIE = "kcl_lang"
#: The name of each language in itself (for the switch).
LANGUAGE_NAMES = {"de": "Deutsch", "en": "English"}


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for path in sorted(LOCALES.glob("*.json")):
        lang = path.name.rsplit(".", 2)[-2]
        if lang not in merged:
            raise ValueError(f"{path.name}: unknown language {lang!r} (known: {', '.join(LANGUAGES)})")
        messages = json.loads(path.read_text(encoding="utf-8"))
        twice = sorted(set(messages) & set(merged[lang]))
        if twice:
            raise ValueError(f"{path.name}: keys defined in another file too: {twice[:5]}")
        merged[lang].update(messages)
    return merged


def translate(lang: str, key: str, **values: object) -> str:
    messages = catalogue()
    text = messages.get(lang, {}).get(key) or messages[DEFAULT_LANG].get(key) or key
    return text.format(**values) if values else text


def translator(lang: str) -> Callable[..., str]:
    def t(key: str, **values: object) -> str:
        return translate(lang, key, **values)

    return t


def labeller(lang: str) -> Callable[[str, object], str]:
    """``label("state", "IN_STOCK")``: the translation of ``state.IN_STOCK``, else the value itself."""

    def label(prefix: str, value: object) -> str:
        key = f"{prefix}.{value}"
        messages = catalogue()
        return messages.get(lang, {}).get(key) or messages[DEFAULT_LANG].get(key) or str(value)

    return label


def requested_lang(request: Request) -> str | None:
    """The language asked for explicitly in the query (to be remembered), if any."""
    value = request.query_params.get("lang")
    return value if value in LANGUAGES else None


def language_of(request: Request) -> str:
    explicit = requested_lang(request)
    if explicit:
        return explicit
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGUAGES:
        return cookie
    return best_match(request.headers.get("accept-language", ""))


def best_match(header: str) -> str:
    """The supported language with the highest q in an Accept-Language header (German if none)."""
    best, best_q = DEFAULT_LANG, 0.0
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        # Earlier entries win ties, as the header's order expresses preference too.
        q -= position * 1e-6
        if primary in LANGUAGES and q > best_q:
            best, best_q = primary, q
    return best
