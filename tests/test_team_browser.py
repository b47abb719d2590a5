"""Issue 19 in a real browser: two analysts in two browser contexts, an admin, and a signed-out visitor.

The app runs with a built-in account file (`streamlit run`, Debian's Chromium through Playwright, loopback only).
"""

from __future__ import annotations

import re
import shutil

import pytest
from test_dashboard_browser import CHROMIUM_ARGS, _settled, _shot, needs_chromium, streamlit_server

from core.checkpoints import save_checkpoint, untrained_model
from core.jobs import JobStore
from core.networks import GeneratorConfig
from core.users import Role, User, add_account

PASSWORD = "correct horse battery"
pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    """The app with accounts alice, bob (analysts) and boss (admin); yields (url, var dir)."""
    needs_chromium()
    tmp = tmp_path_factory.mktemp("team")
    save_checkpoint(tmp / "models" / "default.pt", untrained_model(GeneratorConfig(ngf=8)).generator)
    for user_id, role in (("alice", Role.ANALYST), ("bob", Role.ANALYST), ("boss", Role.ADMIN)):
        add_account(tmp / "var" / "accounts.json", user_id, PASSWORD, role, user_id.title())
    env = {"SARCOLOR_MODELS_DIR": str(tmp / "models"), "SARCOLOR_VAR_DIR": str(tmp / "var")}
    with streamlit_server(tmp, env) as url:
        yield url, tmp / "var"


@pytest.fixture(scope="module")
def browser(team):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _visitor(browser, url: str, path: str = ""):
    """A fresh browser context (its own cookies and session) on the app."""
    page = browser.new_context(viewport={"width": 1400, "height": 1200}, accept_downloads=True).new_page()
    page.goto(f"{url}/{path}")
    _settled(page)
    return page


def _sign_in(browser, url: str, user_id: str):
    page = _visitor(browser, url)
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
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile("Download colorized COG")).click()
    return info.value.url


def test_signed_out_visitor_sees_only_sign_in(team, browser):
    url, _ = team
    for path in ("", "history", "models"):
        page = _visitor(browser, url, path)
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

    stranger = _visitor(browser, url).context.request
    for download in (alice_download, bob_download):  # the files' URLs from another browser, once the pages moved on
        assert stranger.get(download).status == 404, download
