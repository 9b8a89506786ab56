"""Building the repository's Go programs in tests: Debian's toolchain, GOPATH mode, no network.

tests/interop/kclcheck (tests/app/test_go_interop.py) and kclverify/
(tests/app/test_kclverify.py) are built against sources Debian installs under
/usr/share/gocode (scripts/install-test-deps.sh), never downloaded modules.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

#: Where Debian's golang-*-dev packages put Go sources (a GOPATH tree).
GOCODE = Path("/usr/share/gocode")


def go_environment(work: Path, gopath: str = str(GOCODE)) -> dict[str, str]:
    """The environment for `go build` / `go test`: GOPATH mode, local toolchain, no cgo."""
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": gopath,
        "GOFLAGS": "",
        "CGO_ENABLED": "0",
        "GOTOOLCHAIN": "local",
    }
    # The build cache needs a home; give it one under the test's directory when there is none.
    if not (os.environ.get("GOCACHE") or os.environ.get("XDG_CACHE_HOME") or os.environ.get("HOME")):
        env["GOCACHE"] = str(work / "gocache")
    return env


def go_build(go: str, source: Path, binary: Path, env: dict[str, str]) -> Path:
    """Build the Go program in ``source`` into ``binary``; a build failure fails the test, never skips it."""
    build = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, f"go build failed:\n{build.stdout}{build.stderr}"
    return binary


def unavailable(what: str, reason: str, hint: str) -> NoReturn:
    """Go or its Debian sources are missing: a failure under CI=true (CI installs them), else a skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} needs Go and its Debian sources under CI=true: {reason}; {hint}")
    pytest.skip(f"{what} cannot be built here: {reason}; {hint}")
