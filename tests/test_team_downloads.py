"""The download rule of `dashboard.downloads` on Streamlit's own media storage, without a browser.

The browser test (tests/test_team_browser.py) shows it end to end; here each rule alone: a click's file gets a
fresh random id, answers the page's two requests and then is gone, expires unfetched, leaves other media alone,
and answers only the browser whose key was in the click (the key that `dashboard.guard` hands out).
"""

from __future__ import annotations

import asyncio
import contextvars

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from streamlit.runtime.media_file_storage import MediaFileKind, MediaFileStorageError
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from dashboard import downloads, guard


@pytest.fixture
def storage() -> MemoryMediaFileStorage:
    storage = MemoryMediaFileStorage("/media")
    storage.__class__ = downloads.PrivateDownloads  # what serve_downloads_privately does to the server's storage
    return storage


def _click(storage: MemoryMediaFileStorage, data: bytes = b"II*\x00 a COG") -> str:
    return storage.load_and_get_id(data, "image/tiff", MediaFileKind.DOWNLOADABLE, "scene_colorized.tif")


def test_each_click_gets_its_own_url_that_answers_the_page_then_nobody(storage):
    first, second = _click(storage), _click(storage)
    assert first != second and len(first) == 32  # the same file, two clicks, two unrelated ids
    url = storage.get_url(first)  # naming it is not a request
    assert url == f"/media/{first}.tiff"
    filename = url.rsplit("/", 1)[1]
    assert storage.get_file(filename).content == b"II*\x00 a COG"  # Streamlit's page checks the URL
    assert storage.get_file(filename).filename == "scene_colorized.tif"  # the browser downloads it
    with pytest.raises(MediaFileStorageError):
        storage.get_file(filename)  # anyone after that: "not found"
    assert storage.get_file(f"{second}.tiff").content == b"II*\x00 a COG"  # the other click is untouched


def test_an_unfetched_url_expires(storage, monkeypatch):
    monkeypatch.setattr(downloads, "LIFETIME_S", -1.0)
    clicked = _click(storage)
    _click(storage)  # any later storage call drops expired downloads from memory
    with pytest.raises(MediaFileStorageError):
        storage.get_file(f"{clicked}.tiff")


def test_other_media_keep_streamlits_rules(storage):
    image = storage.load_and_get_id(b"\x89PNG picture", "image/png", MediaFileKind.MEDIA)
    for _ in range(3):
        assert storage.get_file(f"{image}.png").content == b"\x89PNG picture"


def test_png_data_url_is_inline():
    assert downloads.png_data_url(b"\x89PNG") == "data:image/png;base64,iVBORw=="


def _click_in(storage: MemoryMediaFileStorage, browser_key: str | None) -> str:
    """A click in the browser holding `browser_key`: Streamlit builds the bytes, then stores them, in one context."""
    build = downloads.owned_by(browser_key, lambda: b"II*\x00 alice's COG")
    return contextvars.copy_context().run(lambda: _click(storage, build()))


def test_a_click_answers_only_the_browser_that_clicked(storage):
    alice, bob = downloads.new_browser_key(), downloads.new_browser_key()
    clicked = _click_in(storage, alice)
    for other in (bob, None, "", alice.upper()):  # another browser, a client without cookies, a forged key
        assert not storage.may_serve(clicked, other)
    assert storage.get_file(f"{clicked}.tiff")  # refusals (decided before the storage is asked) cost nothing
    assert storage.may_serve(clicked, alice)
    assert storage.get_file(f"{clicked}.tiff").content == b"II*\x00 alice's COG"


def test_without_a_browser_key_the_one_click_rule_stays(storage):
    clicked = _click_in(storage, None)  # the single local user on a server without the guard
    assert storage.may_serve(clicked, None) and storage.may_serve(clicked, downloads.new_browser_key())
    assert storage.may_serve("not-a-download", None)


def test_browser_keys_and_media_paths():
    key = downloads.new_browser_key()
    assert downloads.is_browser_key(key) and key != downloads.new_browser_key()
    for bad in (None, "", "x" * 32, key[:-1], key + "0"):
        assert not downloads.is_browser_key(bad)
    assert guard._media_file_id(f"/media/{key}.tiff") == key
    assert guard._media_file_id(f"/team/media/{key}.png") == key  # under server.baseUrlPath
    assert guard._media_file_id("/_stcore/health") is None and guard._media_file_id("/app/static/x.js") is None


def _get(app, path: str, cookie: str | None = None) -> dict[str, str]:
    """One GET through an ASGI app, as a server would call it; the response's headers (lower-case names)."""
    headers = [(b"cookie", cookie.encode())] if cookie else []
    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": headers, "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1),
             "http_version": "1.1", "root_path": ""}  # fmt: skip
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return {k.decode().lower(): v.decode() for k, v in start["headers"]} | {":status": str(start["status"])}


def test_the_guard_gives_each_browser_its_own_httponly_key():
    app = guard.DownloadGuard(Starlette(routes=[Route("/", lambda request: PlainTextResponse("page"))]))
    one, two = _get(app, "/"), _get(app, "/")
    keys = [r["set-cookie"].split(";")[0].removeprefix(f"{downloads.BROWSER_COOKIE}=") for r in (one, two)]
    assert all(downloads.is_browser_key(k) for k in keys) and keys[0] != keys[1]
    assert "httponly" in one["set-cookie"].lower() and "samesite=lax" in one["set-cookie"].lower()
    again = _get(app, "/", cookie=f"{downloads.BROWSER_COOKIE}={keys[0]}")
    assert again[":status"] == "200" and "set-cookie" not in again  # a browser keeps its key
