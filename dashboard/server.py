"""The dashboard as a local server: `streamlit run dashboard/serve.py` on a loopback port, waited for until it answers.

Used by the browser tests, the screenshots (`docs/screenshots.py`) and the soak benchmark.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TRIES = 120  # health checks, half a second apart at most


class ServerDidNotStart(RuntimeError):
    """The app never answered its health check; the message ends with its log."""


def free_port() -> int:
    """A loopback port no one listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    """Waits until the server at `url` says it is healthy; False when it never does."""
    for _ in range(START_TRIES):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return True
        except OSError:
            time.sleep(0.5)
    return False


@contextlib.contextmanager
def dashboard_server(env: dict[str, str], log: Path | None = None, port: int | None = None) -> Iterator[str]:
    """The app with `env` added to this process's environment, its output in `log` (default: discarded), on `port`
    (default: a free one); yields its URL once it answers, stops it on exit. `ServerDidNotStart` if it never answers.
    """
    port = port or free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "dashboard/serve.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"]  # fmt: skip
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(open(log, "w")) if log else subprocess.DEVNULL
        app = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            if not _healthy(url):
                said = log.read_text()[-2000:] if log else ""
                raise ServerDidNotStart(f"streamlit did not start: {said}")
            yield url
        finally:
            app.terminate()
            app.wait(timeout=20)
