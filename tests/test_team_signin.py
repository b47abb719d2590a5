"""The built-in sign-in as an analyst meets it (issue 30, item 12): repeated failures wait (AppTest), and in
Chromium a sign-in survives a reload and a new tab until "Sign out", through the guard's signed HttpOnly cookie.

The browser part runs the team server as `make run` does (`dashboard/serve.py`, loopback only).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_dashboard_browser import _settled, chromium, needs_chromium, streamlit_server, visitor

from core.model.checkpoints import save_checkpoint, untrained_model
from core.model.networks import GeneratorConfig
from core.service.signin import FREE_FAILURES
from core.service.users import Role, add_account
from dashboard import auth
from dashboard.guard import SIGNIN_COOKIE

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
PASSWORD = "correct horse battery"
HEADING = "Colorize a Sentinel-1 scene"


def _team(tmp_path, monkeypatch=None) -> dict[str, str]:
    """A small model and the accounts alice (analyst) and boss (admin); the environment that serves them."""
    save_checkpoint(tmp_path / "models" / "default.pt", untrained_model(GeneratorConfig(ngf=8)).generator)
    for user_id, role in (("alice", Role.ANALYST), ("boss", Role.ADMIN)):
        add_account(tmp_path / "var" / "accounts.json", user_id, PASSWORD, role, user_id.title())
    env = {"SARCOLOR_MODELS_DIR": str(tmp_path / "models"), "SARCOLOR_VAR_DIR": str(tmp_path / "var")}
    for name, value in env.items():
        if monkeypatch is not None:
            monkeypatch.setenv(name, value)
    return env


def _try(at: AppTest, user_id: str, password: str) -> str:
    """One sign-in through the form; the error it shows ('' when none)."""
    at.text_input(key="sign_in_name").input(user_id)
    at.text_input(key="sign_in_password").input(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at.error[0].value if at.error else ""


def test_the_right_password_after_six_wrong_ones_waits(tmp_path, monkeypatch):
    _team(tmp_path, monkeypatch)
    auth._throttle.clear()  # the process's failures start from none (and end so for the next test)
    try:
        at = AppTest.from_file(APP, default_timeout=120).run()
        errors = [_try(at, "alice", "wrong password!") for _ in range(6)]
        assert errors[:FREE_FAILURES] == ["Unknown account name or wrong password."] * FREE_FAILURES
        assert re.fullmatch(r"Too many failed sign-ins for this account; try again in \d+ s\.", errors[-1])
        assert _try(at, "alice", PASSWORD).startswith("Too many failed sign-ins for this account")
        assert [t.value for t in at.title] == ["Sign in to sarcolor"]  # still signed out
        assert _try(at, "boss", PASSWORD) == ""  # another account, from the same client, is let in
        assert "Sign in to sarcolor" not in [t.value for t in at.title]
    finally:
        auth._throttle.clear()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    needs_chromium()
    tmp = tmp_path_factory.mktemp("signin")
    with streamlit_server(tmp, _team(tmp)) as url:
        yield url


def _sign_in(page, user_id: str = "alice") -> None:
    page.get_by_label("Account name").fill(user_id)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Sign in")).click()
    page.get_by_role("heading", name=HEADING).wait_for(timeout=60_000)
    _settled(page)


def _signin_cookie(context, present: bool = True, timeout: float = 20.0) -> dict | None:
    """The sign-in cookie once it is there (or gone, `present=False`), polled: the page fetches it after sign-in."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cookie = next((c for c in context.cookies() if c["name"] == SIGNIN_COOKIE), None)
        if (cookie is not None) == present:
            return cookie
        time.sleep(0.2)
    raise AssertionError(f"the sign-in cookie is {'missing' if present else 'still there'} after {timeout} s")


def _shows_sign_in(page) -> bool:
    page.get_by_role("heading", name="Sign in to sarcolor").wait_for(timeout=60_000)
    return page.get_by_role("heading", name=HEADING).count() == 0


@pytest.mark.browser
@pytest.mark.slow
def test_a_sign_in_survives_a_reload_and_a_new_tab_until_sign_out(server):
    with chromium() as browser:
        page = visitor(browser, server)
        _sign_in(page)
        cookie = _signin_cookie(page.context)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert 11.9 * 3600 < cookie["expires"] - time.time() <= 12 * 3600  # SARCOLOR_SIGNIN_HOURS default
        assert page.evaluate("document.cookie").find(SIGNIN_COOKIE) == -1  # no script can read it

        page.reload()
        page.get_by_role("heading", name=HEADING).wait_for(timeout=60_000)
        assert page.get_by_text("Signed in as Alice").count() == 1
        tab = page.context.new_page()
        tab.goto(server)
        tab.get_by_role("heading", name=HEADING).wait_for(timeout=60_000)

        stolen = browser.new_context()  # the token copied into another browser, without that browser's key
        stolen.add_cookies([{k: cookie[k] for k in ("name", "value", "domain", "path")}])
        assert _shows_sign_in(visitor_in(stolen, server))

        _settled(page)
        page.get_by_role("button", name=re.compile("Sign out")).click()
        assert _shows_sign_in(page)
        _signin_cookie(page.context, present=False)
        page.reload()
        assert _shows_sign_in(page)
        page.context.add_cookies([{k: cookie[k] for k in ("name", "value", "domain", "path")}])  # kept by hand
        page.reload()
        assert _shows_sign_in(page)  # signed out on the server: the old token is refused


def visitor_in(context, url: str):
    """A page of an existing browser context on the app, once its script has run."""
    page = context.new_page()
    page.goto(url)
    _settled(page)
    return page


@pytest.mark.browser
@pytest.mark.slow
def test_six_wrong_passwords_then_the_right_one_in_the_browser(server):
    with chromium() as browser:
        page = visitor(browser, server)
        for _ in range(6):
            page.get_by_label("Account name").fill("boss")
            page.get_by_role("textbox", name="Password").fill("wrong password!")
            page.get_by_role("button", name=re.compile("Sign in")).click()
            _settled(page)
        page.get_by_role("textbox", name="Password").fill(PASSWORD)
        page.get_by_role("button", name=re.compile("Sign in")).click()
        _settled(page)
        page.get_by_text(re.compile(r"Too many failed sign-ins for this account; try again in \d+ s")).wait_for()
        assert _shows_sign_in(page)
