"""Who is using the dashboard: `current_user()` is the one place a page learns it.

One result (`core.service.users.User`, whose id owns jobs in the store) from whichever sign-in is configured:
- `[auth]` in `.streamlit/secrets.toml`: Streamlit's own `st.login` (OpenID Connect); the provider's claims
  become the user (`core.service.users.user_from_claims`; admins listed in SARCOLOR_ADMINS);
- an account file (`sarcolor users add`; SARCOLOR_ACCOUNTS, default `var/accounts.json`): a sign-in form
  checking the bcrypt hash, slowed down after repeated failures per account and per client
  (`core.service.signin.SignInThrottle`); behind the guard (`dashboard.serve`) the sign-in is kept across reloads
  and tabs by a signed, expiring HttpOnly cookie (`core.service.signin.SignInTokens`, delivered by
  `dashboard.guard`) until "Sign out" revokes and clears it; without the guard it lasts as long as the tab's session;
- neither: the single local user, straight into the app, as before sign-in existed.
A signed-out visitor gets only the sign-in page.
"""

from __future__ import annotations

import html

import streamlit as st

from core.service.signin import SignInThrottle, SignInTokens, TooManyFailures
from core.service.users import LOCAL, User, account_user, user_from_claims, verify_password
from core.settings import accounts_file, admin_ids, signin_lifetime_s, var_dir
from dashboard import guard
from dashboard.downloads import BROWSER_COOKIE, is_browser_key

SIGNED_IN = "signed_in_user"  # session state: the account id signed in with the built-in form
TOKEN = "signin_token"  # session state: the sign-in cookie's token of this session (revoked at sign-out)


@st.cache_resource(show_spinner=False)
def _throttle() -> SignInThrottle:
    """Failed sign-ins of this server process (all sessions)."""
    return SignInThrottle()


@st.cache_resource(show_spinner=False)
def _tokens(folder: str, lifetime_s: int) -> SignInTokens:
    """One signer per var dir and lifetime, for the process."""
    return SignInTokens(folder, lifetime_s)


def tokens() -> SignInTokens:
    """The sign-in cookie's signer, its secret in the var dir."""
    return _tokens(str(var_dir()), signin_lifetime_s())


def _browser_key() -> str | None:
    """This browser's key (set by the guard), None without the guard."""
    key = st.context.cookies.get(BROWSER_COOKIE)
    return key if is_browser_key(key) else None


def _provider_configured() -> bool:
    """Whether an identity provider is configured (`[auth]` in the secrets)."""
    return st.secrets.load_if_toml_exists() and "auth" in st.secrets


def signs_in() -> bool:
    """Whether this server has sign-in (several users), as opposed to the single local user."""
    return bool(_provider_configured()) or accounts_file().is_file()


def _signed_in() -> User | None:
    """The user of this browser session, None when nobody is signed in."""
    if _provider_configured():
        return user_from_claims(st.user.to_dict(), admin_ids()) if st.user.is_logged_in else None
    accounts = accounts_file()
    if not accounts.is_file():
        return LOCAL
    user_id = st.session_state.get(SIGNED_IN) or _from_cookie()
    return account_user(accounts, user_id) if user_id else None  # None once the account is removed


def _from_cookie() -> str | None:
    """The account a valid sign-in cookie names (a reload, a new tab), remembered for this session."""
    token = st.context.cookies.get(guard.SIGNIN_COOKIE)
    user_id = tokens().verify(token, _browser_key()) if token else None
    if user_id:
        st.session_state[SIGNED_IN], st.session_state[TOKEN] = user_id, token
    return user_id


def _deliver_cookie() -> None:
    """While the guard holds a sign-in cookie for this browser, an invisible image that fetches it."""
    key = _browser_key()
    if key and guard.is_handed_over(key):
        st.html(f'<img src="{html.escape(guard.SIGNIN_PATH)}" alt="" width="1" height="1" style="opacity:0">')


def current_user() -> User:
    """The signed-in user; for a signed-out visitor, the sign-in page alone, and the script ends there."""
    user = _signed_in()
    _deliver_cookie()
    if user is None:
        st.navigation([st.Page(sign_in_page, title="Sign in", icon=":material/login:", url_path="sign-in")],
                      position="hidden").run()
        st.stop()
    return user


def sign_in_page() -> None:
    """The only page a signed-out visitor sees."""
    st.title("Sign in to sarcolor")
    if _provider_configured():
        st.write("This server signs you in with your organisation's account.")
        st.button("Sign in", type="primary", icon=":material/login:", on_click=st.login, key="sign_in_provider")
        return
    with st.form("sign_in"):
        user_id = st.text_input("Account name", key="sign_in_name", autocomplete="username")
        password = st.text_input("Password", type="password", key="sign_in_password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")
    if submitted and _sign_in(user_id.strip().lower(), password):
        st.rerun()
    st.caption("No account yet? Ask the server's administrator (`sarcolor users add NAME`).")


def _sign_in(account: str, password: str) -> bool:
    """Check the password unless the account or this client must wait; a right one signs this session in and
    hands its cookie to the guard. Says why when it does not."""
    client = st.context.ip_address or _browser_key() or "unknown client"
    try:
        _throttle().check(account, client)
    except TooManyFailures as exc:
        st.error(str(exc), icon=":material/lock_clock:")
        return False
    user = verify_password(accounts_file(), account, password)
    if user is None:
        _throttle().failed(account, client)
        st.error("Unknown account name or wrong password.", icon=":material/lock:")
        return False
    _throttle().succeeded(account, client)
    st.session_state[SIGNED_IN] = user.id
    key = _browser_key()
    if key:  # behind the guard: the sign-in outlives a reload
        token = st.session_state[TOKEN] = tokens().issue(user.id, key)
        guard.hand_over(key, token, tokens().seconds_left(token))
    return True


def _sign_out() -> None:
    """End the sign-in: this session's, and its cookie's (revoked, then cleared in the browser)."""
    st.session_state.pop(SIGNED_IN, None)
    if _provider_configured():
        st.logout()
        return
    tokens().revoke(st.session_state.pop(TOKEN, None) or st.context.cookies.get(guard.SIGNIN_COOKIE))
    key = _browser_key()
    if key:
        guard.hand_over(key, "", 0)


def account_menu(user: User) -> None:
    """In the sidebar: who is signed in, and a sign-out button (nothing for the single local user)."""
    if user == LOCAL:
        return
    with st.sidebar:
        role = " (admin: sees every analyst's jobs)" if user.is_admin else ""
        st.caption(f"Signed in as **{user.name}**{role}")
        st.button("Sign out", icon=":material/logout:", on_click=_sign_out, key="sign_out")
