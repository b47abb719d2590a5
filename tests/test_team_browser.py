"""Issue 19 in a real browser: two analysts in two browser contexts, an admin, and a signed-out visitor; a
result's download URL, preview or path asked for by anyone but its owner's click.

The app runs with a built-in account file (`streamlit run`, Debian's Chromium through Playwright, loopback only).
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_dashboard_browser import _settled, _shot, chromium, needs_chromium, streamlit_server, visitor

from core.model.checkpoints import save_checkpoint, untrained_model
from core.model.networks import GeneratorConfig
from core.service.jobs import JobStore
from core.service.users import Role, User, add_account

PASSWORD = "correct horse battery"
pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    """The app with accounts alice, bob, carol (analysts) and boss (admin); yields (url, var dir)."""
    needs_chromium()
    tmp = tmp_path_factory.mktemp("team")
    save_checkpoint(tmp / "models" / "default.pt", untrained_model(GeneratorConfig(ngf=8)).generator)
    accounts = (("alice", Role.ANALYST), ("bob", Role.ANALYST), ("boss", Role.ADMIN), ("carol", Role.ANALYST))
    for user_id, role in accounts:
        add_account(tmp / "var" / "accounts.json", user_id, PASSWORD, role, user_id.title())
    env = {"SARCOLOR_MODELS_DIR": str(tmp / "models"), "SARCOLOR_VAR_DIR": str(tmp / "var")}
    with streamlit_server(tmp, env) as url:
        yield url, tmp / "var"


@pytest.fixture(scope="module")
def browser(team):
    with chromium() as browser:
        yield browser



def _sign_in(browser, url: str, user_id: str):
    page = visitor(browser, url)
    page.get_by_label("Account name").fill(user_id)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Sign in")).click()
    page.get_by_role("heading", name="Colorize a Sentinel-1 scene").wait_for(timeout=60_000)
    _settled(page)
    return page


def _history_text(page) -> str:
    page.get_by_role("link", name="History").click()
    page.get_by_role("heading", name="History").wait_for()
    _settled(page)
    return page.locator('[data-testid="stMain"]').inner_text()


def _colorize_sample(page) -> str:
    """Colorize the built-in sample; returns the downloaded COG's URL."""
    page.get_by_role("button", name=re.compile("^.*Colorize$")).click()
    page.get_by_text("Download colorized COG").wait_for(timeout=120_000)
    _settled(page)
    return _download(page, "Download colorized COG")[0]


def _download(page, label: str) -> tuple[str, bytes]:
    """Click a download button; the URL the browser fetched and the bytes it saved."""
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile(label)).click()
    return info.value.url, Path(info.value.path()).read_bytes()


def test_signed_out_visitor_sees_only_sign_in(team, browser):
    url, _ = team
    for path in ("", "history", "models"):
        page = visitor(browser, url, path)
        page.get_by_role("heading", name="Sign in to sarcolor").wait_for(timeout=60_000)
        text = page.locator('[data-testid="stApp"]').inner_text()
        assert "History" not in text and "Colorize a Sentinel-1 scene" not in text, path
        assert page.get_by_role("link", name="History").count() == 0
        page.context.close()


def test_two_analysts_in_two_browsers_and_the_admin(team, browser):
    url, var = team
    alice = _sign_in(browser, url, "alice")
    alice_download = _colorize_sample(alice)
    bob = _sign_in(browser, url, "bob")
    bob_history = _history_text(bob)
    assert "No job yet" in bob_history
    (alice_job,) = JobStore(var).list(User("alice", "alice"))
    assert alice_job.file_name not in bob_history
    bob.get_by_role("link", name="Colorize").click()
    bob.get_by_role("heading", name="Colorize a Sentinel-1 scene").wait_for()
    _settled(bob)
    bob_download = _colorize_sample(bob)
    (bob_job,) = JobStore(var).list(User("bob", "bob"))
    assert bob_job.id != alice_job.id
    for page in (alice, bob):  # the table is a canvas: its caption counts the rows each one sees
        assert "1 job(s)." in _history_text(page)
    _shot(bob, "team-bob-history")

    boss = _sign_in(browser, url, "boss")
    assert "2 job(s)." in _history_text(boss)
    _shot(boss, "team-admin-history")

    stranger = visitor(browser, url).context.request
    for download in (alice_download, bob_download):  # the files' URLs from another browser, once the pages moved on
        assert stranger.get(download).status == 404, download


def test_a_result_leaves_only_through_its_owners_click(team, browser):
    """Streamlit serves a download at /media/<id> to anyone holding the URL, and kept a downloaded COG there
    (measured: still served 35 s later, to a browser without cookies). Each click's URL must serve the owner's
    page alone; previews must not be URLs at all; no path to the job's files serves them."""
    url, var = team
    stranger = browser.new_context().request  # no cookies, no session
    bob = _sign_in(browser, url, "bob").context.request  # signed in, another analyst
    carol = _sign_in(browser, url, "carol")
    cog_url = _colorize_sample(carol)  # asked for at once: no script run in between clears Streamlit's media
    (job,) = JobStore(var).list(User("carol", "carol"))
    output = Path(job.output_path)
    cog = output.read_bytes()
    for client in (stranger, bob):
        assert client.get(cog_url).status == 404
    again_url, again = _download(carol, "Download colorized COG")  # the owner may download again: a new URL
    png_url, png = _download(carol, "Download PNG quicklook")
    assert again == cog and png.startswith(b"\x89PNG") and len({cog_url, again_url, png_url}) == 3
    for client in (stranger, bob):
        for clicked in (again_url, png_url):
            assert client.get(clicked).status == 404, clicked

    carol.get_by_role("tab", name="Compare").click()
    carol.locator('[data-testid="stMain"] img').first.wait_for()
    sources = carol.locator('[data-testid="stMain"] img').evaluate_all("images => images.map(i => i.src)")
    assert len(sources) >= 2 and not [s for s in sources if "/media/" in s]  # SAR and colorized, inline

    relative = output.relative_to(var)
    for path in (f"media/{job.id}.tiff", f"media/{output.name}", f"media/{output.stem}.tiff", f"var/{relative}",
                 f"app/static/{relative}", f"app/static/%2e%2e/%2e%2e/{relative}", str(output).lstrip("/")):
        response = stranger.get(f"{url}/{path}")
        assert response.body() != cog and "attachment" not in response.headers.get("content-disposition", ""), path


def _status_without_cookies(url: str) -> int:
    """What a plain HTTP client (no cookies, no session) gets for `url`."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as refused:
        return refused.code


def test_a_download_url_taken_before_the_owner_used_it_serves_the_owner_alone(team, browser):
    """Issue 30: alice's download URL, taken the moment her page asks for it and before her browser has used it,
    is "not found" to bob's signed-in browser and to a client without cookies; alice's browser still gets her file.

    Without the guard bob's browser got alice's COG here (measured: 200, then her own download still worked)."""
    url, var = team
    bob = _sign_in(browser, url, "bob").context.request
    stranger = browser.new_context().request
    alice = _sign_in(browser, url, "alice")
    raced: dict[str, tuple[int, int, int]] = {}

    def others_first(route) -> None:  # holds alice's first request for the URL until the others have tried it
        media = route.request.url
        if media not in raced:
            raced[media] = (bob.get(media).status, stranger.get(media).status, _status_without_cookies(media))
        route.continue_()

    alice.get_by_role("button", name=re.compile("^.*Colorize$")).click()
    alice.get_by_text("Download colorized COG").wait_for(timeout=120_000)
    _settled(alice)
    alice.route("**/media/**", others_first)
    cog_url, cog = _download(alice, "Download colorized COG")
    for _ in range(100):  # the handler may still be finishing while the download completes
        if cog_url in raced:
            break
        alice.wait_for_timeout(100)
    alice.unroute("**/media/**")
    assert raced.get(cog_url) == (404, 404, 404), raced  # bob signed in, a fresh browser, a client without cookies
    alice_job = max(JobStore(var).list(User("alice", "alice")), key=lambda job: job.created_at)
    assert cog == Path(alice_job.output_path).read_bytes()  # the owner's browser still got her file, whole
    assert stranger.get(cog_url).status == 404 and bob.get(cog_url).status == 404
