"""Run ``custody`` in this process, exactly as the script does, for the chatty CLI tests.

The script's entry point is :func:`app.cli.main`; calling it here with the
command's environment, working directory, stdin and streams in place gives
the same exit code, stdout and stderr as a new process — without the ~0.8 s
of imports every process pays, which the lifecycle tests would pay hundreds
of times. tests/app/test_cli.py keeps running the real script in a new
process, so the script itself stays covered.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from app.cli import main

# Environment, working directory and standard streams belong to the process: one command
# at a time (callers that map commands over a thread pool are serialised here).
_ONE_AT_A_TIME = threading.Lock()


@contextlib.contextmanager
def _environment(env: Mapping[str, str], cwd: Path) -> Iterator[None]:
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)


def run_in_process(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> tuple[int, bytes, bytes]:
    """``custody ARGV`` → (exit code, stdout bytes, stderr bytes); stdin is empty, as /dev/null."""
    stdout_bytes, stderr_bytes = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(stdout_bytes, encoding="utf-8", write_through=True)
    stderr = io.TextIOWrapper(stderr_bytes, encoding="utf-8", errors="replace", write_through=True)
    saved = sys.stdin, sys.stdout, sys.stderr
    code: int
    with _ONE_AT_A_TIME, _environment(env, cwd):
        sys.stdin, sys.stdout, sys.stderr = io.StringIO(""), stdout, stderr
        try:
            main(list(argv))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.stdin, sys.stdout, sys.stderr = saved
            stdout.flush()
            stderr.flush()
            # The command's database engines are garbage now: close their connections
            # before the next command, as the end of a process would.
            gc.collect()
    return code, stdout_bytes.getvalue(), stderr_bytes.getvalue()
