"""Configuration from the environment (``CUSTODY_*``) and an optional ``.env``.

Command-line options override these; nothing else reads the environment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///var/custody.db"
DEFAULT_ORIGIN = "custody.local/ledger"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CUSTODY_", env_file=".env", extra="ignore")

    #: SQLAlchemy URL; ``sqlite:///path`` (embedded) or ``postgresql://…``.
    database_url: str = DEFAULT_DATABASE_URL
    #: Where key files live when no explicit path is given (0700).
    key_dir: Path | None = None
    #: The checkpoint signing key (encrypted PKCS#8 PEM).
    log_key_file: Path | None = None
    log_key_passphrase: SecretStr | None = None
    #: Passphrase of the acting party's key file (CLI signing).
    key_passphrase: SecretStr | None = None
    origin: str = DEFAULT_ORIGIN
    #: The ledger's public base URL: seal labels and delivery notes point here (upper-cased).
    public_url: str = DEFAULT_PUBLIC_URL
    #: Passphrase of the label key file (KEY_DIR/label-key.pem); default: the log key's passphrase.
    label_key_passphrase: SecretStr | None = None

    # The log key in an HSM (app/hsm.py). With a module set, the log key is the Ed25519 key
    # labelled ``hsm_key_label`` on the token, and the PEM file above is not used.
    #: Path of the PKCS#11 module (shared library), e.g. /usr/lib/softhsm/libsofthsm2.so.
    hsm_module: Path | None = None
    #: Label of the token that holds the log key.
    hsm_token_label: str | None = None
    #: Label (CKA_LABEL) of the log key pair on the token.
    hsm_key_label: str = "custody-log-key"
    #: The token's user PIN; a prompt at a terminal when unset.
    hsm_pin: SecretStr | None = None

    # HTTP service.
    #: Largest request body accepted (bytes); larger ones get 413.
    api_max_body_bytes: int = 2_000_000
    #: Sustained requests per second per caller (token, else address), and burst.
    api_rate_per_second: float = 500.0
    api_rate_burst: int = 1000
    #: Seconds an idle keep-alive connection stays open. Longer than a reverse proxy keeps its
    #: idle upstream connections (nginx: 60 s), so the proxy closes them first: a proxy that
    #: reuses a connection the server has just closed answers 502, and does not retry a POST.
    api_keepalive_seconds: int = Field(default=75, ge=1, le=3600)
    #: Send Strict-Transport-Security (set when TLS terminates in front of us).
    api_hsts: bool = False
    #: Log lines as JSON (one object per line) or for people ("console").
    log_format: str = "json"

    # Web pages.
    #: Mark the session cookie ``Secure`` (set it whenever the pages are served over HTTPS).
    web_cookie_secure: bool = False
    #: How long a sign-in lasts (hours).
    web_session_hours: int = 12

    # Witnesses (docs/format.md §11).
    #: Witnesses asked to cosign checkpoints: "<vkey>@<submission URL prefix>" each; in the
    #: environment a JSON list or entries separated by whitespace or commas.
    witnesses: Annotated[list[str], NoDecode] = []
    #: Passphrase of a witness's own key file (`custody witness …`).
    witness_key_passphrase: SecretStr | None = None

    @field_validator("hsm_module", "hsm_token_label", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # ``CUSTODY_HSM_MODULE=`` (as a template .env leaves it) means no HSM, not the module ".".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("witnesses", mode="before")
    @classmethod
    def _split_witnesses(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part for part in text.replace(",", " ").split() if part]
        return value

    def resolved_key_dir(self) -> Path:
        """Keys sit next to an SQLite file, else under ./var/keys."""
        if self.key_dir is not None:
            return self.key_dir
        path = sqlite_path(self.database_url)
        if path is not None:
            return path.parent / "keys"
        return Path("var") / "keys"

    def resolved_log_key_file(self) -> Path:
        return self.log_key_file or self.resolved_key_dir() / "log-key.pem"

    @property
    def log_key_in_hsm(self) -> bool:
        """True when the log key is on a PKCS#11 token (``CUSTODY_HSM_MODULE`` is set)."""
        return self.hsm_module is not None


def sqlite_path(url: str) -> Path | None:
    """The file of an ``sqlite:///`` URL, or None for other databases."""
    for prefix in ("sqlite+pysqlite:///", "sqlite:///"):
        if url.startswith(prefix):
            rest = url[len(prefix) :].split("?", 1)[0]
            return Path(rest) if rest and rest != ":memory:" else None
    return None


def load_settings(**overrides: object) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**values)  # type: ignore[arg-type]
