"""The guard in front of the dashboard (`dashboard.serve`): a key for each browser, and a browser's downloads for it
alone.

It gives each browser a key in an HttpOnly cookie, which the page's script reads when the owner clicks a download
(`dashboard.downloads.owned_by`), and it answers a `/media/` request for a download with "not found" unless the
request carries the key of the browser that clicked.
"""

from __future__ import annotations

import os

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboard import downloads


def _media_file_id(path: str) -> str | None:
    """The file id of a `/media/<id>.<ext>` path (under any base URL), None for other paths."""
    parent, _, name = path.rstrip("/").rpartition("/")
    return os.path.splitext(name)[0] if parent.endswith("/media") or parent == "media" else None


class DownloadGuard:
    """ASGI middleware: a browser key for every browser; another browser's download is "not found"."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        key = HTTPConnection(scope).cookies.get(downloads.BROWSER_COOKIE)
        file_id = _media_file_id(scope["path"]) if scope["type"] == "http" else None
        if file_id is not None and not downloads.may_serve(file_id, key):
            await PlainTextResponse("File not found", status_code=404)(scope, receive, send)
            return
        if downloads.is_browser_key(key) or scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, _with_cookie(send, _cookie(downloads.new_browser_key(), scope)))


def _cookie(key: str, scope: Scope) -> str:
    """The Set-Cookie value for a new browser key: for this site's pages only, never readable by scripts."""
    secure = "; Secure" if scope.get("scheme") == "https" else ""
    return f"{downloads.BROWSER_COOKIE}={key}; Path=/; HttpOnly; SameSite=Lax{secure}"


def _with_cookie(send: Send, cookie: str) -> Send:
    """`send`, with `cookie` set on the response."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            MutableHeaders(scope=message).append("set-cookie", cookie)
        await send(message)

    return sending
