"""Who is using the dashboard: `current_user()` is the one place a page learns it.

One result (`core.service.users.User`, whose id owns jobs in the store) from whichever sign-in is configured:
- `[auth]` in `.streamlit/secrets.toml`: Streamlit's own `st.login` (OpenID Connect); the provider's claims
  become the user (`core.service.users.user_from_claims`; admins listed in SARCOLOR_ADMINS);
- an account file (`sarcolor users add`; SARCOLOR_ACCOUNTS, default `var/accounts.json`): a sign-in form
  checking the bcrypt hash; the sign-in lasts as long as the browser tab's session;
- neither: the single local user, straight into the app, as before sign-in existed.
A signed-out visitor gets only the sign-in page.
"""

from __future__ import annotations

import streamlit as st

from core.service.users import LOCAL, User, account_user, user_from_claims, verify_password
from core.settings import accounts_file, admin_ids

SIGNED_IN = "signed_in_user"  # session state: the account id signed in with the built-in form


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
    user_id = st.session_state.get(SIGNED_IN)
    return account_user(accounts, user_id) if user_id else None  # None once the account is removed


def current_user() -> User:
    """The signed-in user; for a signed-out visitor, the sign-in page alone, and the script ends there."""
    user = _signed_in()
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
    if submitted:
        user = verify_password(accounts_file(), user_id, password)
        if user is None:
            st.error("Unknown account name or wrong password.", icon=":material/lock:")
            return
        st.session_state[SIGNED_IN] = user.id
        st.rerun()
    st.caption("No account yet? Ask the server's administrator (`sarcolor users add NAME`).")


def _sign_out() -> None:
    """End this browser session's sign-in."""
    if _provider_configured():
        st.logout()
    st.session_state.pop(SIGNED_IN, None)


def account_menu(user: User) -> None:
    """In the sidebar: who is signed in, and a sign-out button (nothing for the single local user)."""
    if user == LOCAL:
        return
    with st.sidebar:
        role = " (admin: sees every analyst's jobs)" if user.is_admin else ""
        st.caption(f"Signed in as **{user.name}**{role}")
        st.button("Sign out", icon=":material/logout:", on_click=_sign_out, key="sign_out")
