"""The download rule of `dashboard.downloads` on Streamlit's own media storage, without a browser.

The browser test (tests/test_team_browser.py) shows it end to end; here each rule alone: a click's file gets a
fresh random id, answers the page's two requests and then is gone, expires unfetched, and leaves other media alone.
"""

from __future__ import annotations

import pytest
from streamlit.runtime.media_file_storage import MediaFileKind, MediaFileStorageError
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from dashboard import downloads


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
