"""A job's files leave the server only through its owner's click: each click gets a URL of its own, briefly.

Streamlit hands `st.download_button` files out at `/media/<id>` to whoever asks, with no session or sign-in
check; the id is a hash of the file, so the same result always has the same URL, and a downloaded file stays
there until two later script runs of any session. Measured (Streamlit 1.67, issue 19): a COG downloaded by one
analyst was served, byte for byte, to a browser without cookies 0 s, 5 s and 35 s after the click, and still
after another visitor loaded the app.

Here the buttons build their bytes only when the owner clicks (the data is a callable, registered only in the
owner's session, whose pages list only the owner's jobs), and `serve_downloads_privately` changes what that click
produces: a fresh random URL (128 bits) that answers only the two requests the owner's page makes right away
(Streamlit's page first fetches the URL to check it, then the browser downloads it) and only for
`LIFETIME_S`; after that the file is dropped from memory and the URL is "not found". A second click builds the
file again under a new URL. Previews are sent inside the page (data URLs), never as `/media/` files.

A URL alone is not enough: the click's file is bound to the owner's browser key (`BROWSER_COOKIE`, an HttpOnly
cookie that `dashboard.serve` gives every browser), and `may_serve` refuses any request without that key, so
another browser, signed in or not, gets "not found" even if it has the URL before the owner's browser used it.
Such refused requests do not count against the owner's two. Without the guard (plain `streamlit run
dashboard/app.py`) there is no key: the single local user keeps the one-click rule; a team server offers no
downloads (`downloads_possible`).
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar

from streamlit import runtime
from streamlit.runtime.media_file_storage import MediaFileKind
from streamlit.runtime.memory_media_file_storage import (
    MemoryFile,
    MemoryMediaFileStorage,
    get_extension_for_mimetype,
)

REQUESTS_PER_CLICK = 2  # the page's check of the URL (a full GET), then the browser's download
LIFETIME_S = 60.0  # a click's URL is dead after this, fetched or not
BROWSER_COOKIE = "sarcolor_browser"  # HttpOnly; 128 random bits as hex, set by dashboard.serve
_KEY_FORM = re.compile(r"[0-9a-f]{32}")
_LOCK = threading.Lock()
_CLICKED_BY: ContextVar[str | None] = ContextVar("sarcolor_download_owner", default=None)


def new_browser_key() -> str:
    """A fresh browser key (what `BROWSER_COOKIE` holds)."""
    return secrets.token_hex(16)


def is_browser_key(value: object) -> bool:
    """Whether `value` is a string of the form of a key this server hands out."""
    return isinstance(value, str) and _KEY_FORM.fullmatch(value) is not None


def owned_by(browser_key: str | None, data: Callable[[], bytes]) -> Callable[[], bytes]:
    """`data` for a download button, whose file, once built on the click, answers only `browser_key`'s requests.

    Streamlit runs the callable on a worker thread and stores its bytes right after, in the same context:
    the key travels there in a context variable.
    """

    def build() -> bytes:
        _CLICKED_BY.set(browser_key)
        return data()

    return build


class PrivateDownloads(MemoryMediaFileStorage):
    """Streamlit's in-memory media storage, with downloads under one-off ids that answer a click's requests only."""

    @property
    def _handed_out(self) -> dict[str, tuple[int, float, str | None]]:
        """Download id -> (requests left, deadline on the monotonic clock, owner's browser key or None); kept on the
        storage it was made for."""
        return self.__dict__.setdefault("handed_out", {})

    def may_serve(self, file_id: str, browser_key: str | None) -> bool:
        """Whether a request carrying `browser_key` may have `file_id` (anything but another browser's download)."""
        with _LOCK:
            owner = self._handed_out.get(file_id, (0, 0.0, None))[2]
        return owner is None or (browser_key is not None and secrets.compare_digest(owner, browser_key))

    def load_and_get_id(
        self, path_or_data: str | bytes, mimetype: str, kind: MediaFileKind, filename: str | None = None
    ) -> str:
        """Store a file; a download gets a fresh random id (never the file's hash, which repeats)."""
        if kind != MediaFileKind.DOWNLOADABLE:
            return super().load_and_get_id(path_or_data, mimetype, kind, filename)
        with _LOCK:
            self._drop_expired()
            file_id = super().load_and_get_id(path_or_data, mimetype, kind, filename)
            private_id = secrets.token_hex(16)
            self._files_by_id[private_id] = self._files_by_id.pop(file_id)
            self._handed_out[private_id] = (REQUESTS_PER_CLICK, time.monotonic() + LIFETIME_S, _CLICKED_BY.get())
        return private_id

    def get_file(self, filename: str) -> MemoryFile:
        """What the `/media/` route serves; a download counts this request, and is dropped after its last one."""
        file_id = os.path.splitext(filename)[0]
        with _LOCK:
            self._drop_expired()
            file = super().get_file(filename)
            if file_id in self._handed_out:
                left, deadline, owner = self._handed_out[file_id]
                if left <= 1:
                    self._drop(file_id)
                else:
                    self._handed_out[file_id] = (left - 1, deadline, owner)
            return file

    def get_url(self, file_id: str) -> str:
        """The file's URL (as Streamlit's own); naming the file is not a request for it."""
        mimetype = MemoryMediaFileStorage.get_file(self, file_id).mimetype
        return f"{self._media_endpoint}/{file_id}{get_extension_for_mimetype(mimetype)}"

    def _drop(self, file_id: str) -> None:
        self._handed_out.pop(file_id, None)
        self.delete_file(file_id)

    def _drop_expired(self) -> None:
        now = time.monotonic()
        for file_id in [i for i, (_, deadline, _) in self._handed_out.items() if deadline < now]:
            self._drop(file_id)


def _storage() -> MemoryMediaFileStorage | None:
    """The object the running server's /media/ route reads; None outside a running server."""
    return runtime.get_instance().media_file_mgr._storage if runtime.exists() else None


def serve_downloads_privately() -> None:
    """Give this server's media storage the download rules above (idempotent; nothing outside a running server)."""
    storage = _storage()
    with _LOCK:
        if type(storage) is MemoryMediaFileStorage:
            storage.__class__ = PrivateDownloads  # same state; the methods above


def may_serve(file_id: str, browser_key: str | None) -> bool:
    """Whether the running server may answer a `/media/` request for `file_id` from a browser with `browser_key`."""
    storage = _storage()
    return not isinstance(storage, PrivateDownloads) or storage.may_serve(file_id, browser_key)


def png_data_url(png: bytes) -> str:
    """A PNG as a data URL: `st.image` sends it inside the page instead of storing it at a `/media/` URL."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
