"""A minimal HTTP client (stdlib ``urllib``) for talking to logs and witnesses.

Every answer comes back as a :class:`Response`, whatever its status; only a
peer that cannot be reached (refused, timed out, TLS failure, bad URL scheme)
raises :class:`PeerUnreachable`, an environment failure (CLI exit 3).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

from app.errors import OperationalError
from ledger.errors import InvalidInput

#: Never read more than this from a peer (a checkpoint note is at most 1 MiB).
MAX_RESPONSE_BYTES = 4 << 20
USER_AGENT = "konnektor-custody-ledger"


class PeerUnreachable(OperationalError):
    code = "operational.unreachable"


@dataclass(frozen=True)
class Response:
    url: str
    status: int
    content_type: str
    body: bytes

    def first_line(self) -> str:
        """The body's first line, shortened, for one-line error messages."""
        text = self.body.decode("utf-8", "replace").strip().splitlines()
        return (text[0][:300] if text else "").strip()


def check_url(url: str, what: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"{what} must be an http:// or https:// URL, got {url!r}")
    return url.rstrip("/")


def request(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    content_type: str | None = None,
    timeout: float = 10.0,
) -> Response:
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310 (scheme checked)
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"not an http(s) URL: {url!r}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:  # noqa: S310 (scheme checked)
            data = answer.read(MAX_RESPONSE_BYTES + 1)
            return _response(url, answer.status, answer.headers.get("Content-Type", ""), data)
    except urllib.error.HTTPError as exc:
        data = exc.read(MAX_RESPONSE_BYTES + 1) if exc.fp is not None else b""
        return _response(url, exc.code, exc.headers.get("Content-Type", "") if exc.headers else "", data)
    except urllib.error.URLError as exc:
        raise PeerUnreachable(f"cannot reach {url}: {exc.reason}") from None
    except (TimeoutError, ConnectionError, OSError) as exc:
        raise PeerUnreachable(f"cannot reach {url}: {exc}") from None


def _response(url: str, status: int, content_type: str, data: bytes) -> Response:
    if len(data) > MAX_RESPONSE_BYTES:
        raise PeerUnreachable(f"{url} answered with more than {MAX_RESPONSE_BYTES} bytes")
    return Response(url, status, content_type, data)
