"""Streamlit's own sign-in (`st.login`, OpenID Connect) against a real OpenID provider, in a real browser.

`oidc-provider-mock` (PyPI) runs an OpenID provider on a loopback port: discovery document, authorization form,
token endpoint, signed ID tokens, JWKS and userinfo. The app gets `[auth]` from a secrets file in a temporary
folder (never the repository's `.streamlit/secrets.toml`) and `SARCOLOR_ADMINS`. Analysts sign in by the
provider's form in Chromium; Streamlit exchanges the code, checks the ID token and sets its cookie; the claims
become the user (`dashboard.auth.current_user`), the same code path as the built-in accounts: own jobs only, an
admin sees all, a signed-out visitor sees only the sign-in page.
"""

from __future__ import annotations

import re
import secrets
import warnings
from pathlib import Path

import pytest
from test_dashboard_browser import _settled, _shot, chromium, needs_chromium, streamlit_server, visitor

from core.model.checkpoints import save_checkpoint, untrained_model
from core.model.networks import GeneratorConfig
from core.service.jobs import JobStore
from core.service.users import LOCAL
from dashboard.server import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CLAIMS = {  # the provider's accounts: subject -> claims (an e-mail in mixed case: ids are lower-cased)
    "carol-7f3a": {"email": "Carol@Team.example", "name": "Carol"},
    "dave-19c2": {"email": "dave@team.example", "name": "Dave"},
    "boss-0001": {"email": "boss@team.example", "name": "The Boss"},
}


@pytest.fixture(scope="module")
def provider():
    """A real OpenID provider on a loopback port; yields its issuer URL."""
    needs_chromium()
    with warnings.catch_warnings():  # authlib's import puts an "always" filter above pyproject's ignore: undone here
        pytest.importorskip("authlib.deprecate", reason="oidc-provider-mock is not installed")
        warnings.simplefilter("ignore", DeprecationWarning)  # authlib's own deprecations, raised on import
        mock = pytest.importorskip("oidc_provider_mock", reason="oidc-provider-mock is not installed")
    users = [mock.User(sub=sub, claims=claims) for sub, claims in CLAIMS.items()]
    with mock.run_server_in_thread(user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def app(provider, tmp_path_factory):
    """The app with `[auth]` pointing at the provider (secrets in a temporary folder); yields (url, var dir)."""
    tmp = tmp_path_factory.mktemp("oidc")
    save_checkpoint(tmp / "models" / "default.pt", untrained_model(GeneratorConfig(ngf=8)).generator)
    port = free_port()
    secrets_file = tmp / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        'client_id = "sarcolor-test"\n'
        'client_secret = "not-a-real-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
    )
    env = {"SARCOLOR_MODELS_DIR": str(tmp / "models"), "SARCOLOR_VAR_DIR": str(tmp / "var"),
           "SARCOLOR_ADMINS": "boss@team.example", "STREAMLIT_SECRETS_FILES": str(secrets_file)}
    with streamlit_server(tmp, env, port=port) as url:
        yield url, tmp / "var"


@pytest.fixture(scope="module")
def browser(app):
    with chromium() as browser:
        yield browser



def _sign_in(browser, url: str, subject: str):
    """Sign in through the provider's own authorization form; returns the page, back in the app."""
    page = visitor(browser, url)
    page.get_by_role("heading", name="Sign in to sarcolor").wait_for(timeout=60_000)
    page.get_by_role("button", name=re.compile("Sign in")).click()
    page.get_by_placeholder("sub").fill(subject)  # the provider's page, not the app's
    page.get_by_role("button", name="Authorize").click()
    page.get_by_role("heading", name="Colorize a Sentinel-1 scene").wait_for(timeout=60_000)
    _settled(page)
    return page


def _history_text(page) -> str:
    page.get_by_role("link", name="History").click()
    page.get_by_role("heading", name="History").wait_for()
    _settled(page)
    return page.locator('[data-testid="stMain"]').inner_text()


def _colorize_sample(page) -> tuple[str, bytes]:
    """Colorize the built-in sample and download the COG: its URL and bytes."""
    page.get_by_role("link", name="Colorize").click()
    page.get_by_role("heading", name="Colorize a Sentinel-1 scene").wait_for()
    _settled(page)
    page.get_by_role("button", name=re.compile("^.*Colorize$")).click()
    page.get_by_text("Download colorized COG").wait_for(timeout=120_000)
    _settled(page)
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile("Download colorized COG")).click()
    return info.value.url, Path(info.value.path()).read_bytes()


def test_signed_out_visitor_sees_only_the_provider_sign_in(app, browser):
    url, _ = app
    for path in ("", "history", "models"):
        page = visitor(browser, url, path)
        page.get_by_role("heading", name="Sign in to sarcolor").wait_for(timeout=60_000)
        text = page.locator('[data-testid="stApp"]').inner_text()
        assert "organisation's account" in text and "Colorize a Sentinel-1 scene" not in text, path
        assert page.get_by_role("link", name="History").count() == 0 and page.get_by_label("Password").count() == 0
        page.context.close()


def test_provider_users_see_their_own_jobs_admin_sees_all(app, browser):
    url, var = app
    carol = _sign_in(browser, url, "carol-7f3a")
    assert "Signed in as Carol" in carol.locator('[data-testid="stSidebar"]').inner_text()
    carol_url, carol_cog = _colorize_sample(carol)
    dave = _sign_in(browser, url, "dave-19c2")
    assert "No job yet" in _history_text(dave)
    assert dave.context.request.get(carol_url).status == 404  # Carol's download, asked for from Dave's browser
    _colorize_sample(dave)
    owners = sorted(job.owner for job in JobStore(var).list(LOCAL))
    assert owners == ["carol@team.example", "dave@team.example"]  # the provider's e-mail, lower case
    carol_job = next(job for job in JobStore(var).list(LOCAL) if job.owner == "carol@team.example")
    assert Path(carol_job.output_path).read_bytes() == carol_cog
    for page in (carol, dave):
        assert "1 job(s)." in _history_text(page) and "Analyst" not in _history_text(page)
    _shot(dave, "oidc-dave-history")

    boss = _sign_in(browser, url, "boss-0001")
    assert "admin" in boss.locator('[data-testid="stSidebar"]').inner_text()
    assert "2 job(s)." in _history_text(boss)
    _shot(boss, "oidc-admin-history")

    carol.get_by_role("button", name=re.compile("Sign out")).click()
    carol.get_by_role("button", name="End session").click()  # the provider's end-session page (RP-initiated logout)
    carol.get_by_role("heading", name="Sign in to sarcolor").wait_for(timeout=60_000)
    carol.goto(f"{url}/history")  # a new session in the same browser: Streamlit's sign-in cookie is gone too
    _settled(carol)
    assert carol.get_by_role("heading", name="Sign in to sarcolor").count() == 1
    assert carol.get_by_role("heading", name="History").count() == 0
