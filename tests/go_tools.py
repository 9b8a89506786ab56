"""Building the repository's Go programs in tests: Debian's toolchain, GOPATH mode, no network.

tests/interop/kclcheck (tests/app/test_go_interop.py) and kclverify/
(tests/app/test_kclverify.py) are built against sources Debian installs under
/usr/share/gocode (scripts/install-test-deps.sh), never downloaded modules.
"""

from __future__ import annotations

import os
from pathlib import Path

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
