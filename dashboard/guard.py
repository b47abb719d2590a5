"""The guard in front of the dashboard (`dashboard.serve`): a key for each browser, a browser's downloads for it
alone, and the sign-in cookie.

It gives each browser a key in an HttpOnly cookie, which the page's script reads when the owner clicks a download
(`dashboard.downloads.owned_by`), and it answers a `/media/` request for a download with "not found" unless the
request carries the key of the browser that clicked.

The page's script talks to the browser over a websocket, which cannot set cookies; so a sign-in or a sign-out hands
its cookie to the guard (`hand_over`, for that browser's key), the page asks for `SIGNIN_PATH` (an invisible
image), and the guard answers that browser, and only it, with the HttpOnly `SIGNIN_COOKIE` set or cleared.
"""

from __future__ import annotations

import os
import threading

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboard import downloads

SIGNIN_COOKIE = "sarcolor_signin"  # HttpOnly; a `core.service.signin.SignInTokens` token
SIGNIN_PATH = "_sarcolor/signin"  # relative to the app's base URL
_HANDED: dict[str, tuple[str, int]] = {}  # browser key -> (cookie value, max-age s; 0 clears it) to deliver
_HANDED_LOCK = threading.Lock()


def hand_over(browser_key: str, token: str, max_age: int) -> None:
    """Have the guard set `SIGNIN_COOKIE` to `token` (for `max_age` s; "" and 0 clear it) in `browser_key`'s browser,
    at its next request for `SIGNIN_PATH`."""
    with _HANDED_LOCK:
        _HANDED[browser_key] = (token, max_age)


def is_handed_over(browser_key: str) -> bool:
    """Whether a cookie waits for `browser_key`'s browser to fetch it."""
    with _HANDED_LOCK:
        return browser_key in _HANDED


def _signin_response(key: str | None, scope: Scope) -> Response:
    """The answer to `SIGNIN_PATH`: the cookie handed over for this browser, if any; never cached."""
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    with _HANDED_LOCK:
        handed = _HANDED.pop(key, None) if downloads.is_browser_key(key) else None
    if handed is not None:
        token, max_age = handed
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        cookie = f"{SIGNIN_COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
        response.headers.append("set-cookie", cookie)
    return response


def _media_file_id(path: str) -> str | None:
    """The file id of a `/media/<id>.<ext>` path (under any base URL), None for other paths."""
    parent, _, name = path.rstrip("/").rpartition("/")
    return os.path.splitext(name)[0] if parent.endswith("/media") or parent == "media" else None


class DownloadGuard:
    """ASGI middleware: a browser key for every browser; another browser's download is "not found"; the sign-in
    cookie delivered to the browser it was handed over for."""

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
        if scope["type"] == "http" and scope["path"].rstrip("/").endswith("/" + SIGNIN_PATH):
            await _signin_response(key, scope)(scope, receive, send)
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
