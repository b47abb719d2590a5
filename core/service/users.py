"""Who works on the server: users and roles, the built-in account file, and identity-provider claims.

Every job belongs to a user id (`Job.owner`). An analyst sees only their own jobs; an admin sees all.
With nothing configured there is one user, `LOCAL` (an admin: a single-user server shows all its history).

The built-in account file is JSON, written only by `sarcolor users add|remove` (`core.cli`):
`{"users": {"<id>": {"name": ..., "role": "analyst" | "admin", "password": "<bcrypt hash>"}}}`.
Passwords are kept only as bcrypt hashes (cost 12, salted); the file is written atomically, readable by its owner.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

import bcrypt

from core.errors import AccountError

MIN_PASSWORD_LENGTH = 10
USER_ID = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")


class Role(StrEnum):
    """What a user may see: their own jobs (analyst) or every job (admin)."""

    ANALYST = "analyst"
    ADMIN = "admin"


@dataclass(frozen=True)
class User:
    """A signed-in user: `id` owns jobs in the store, `name` is shown."""

    id: str
    name: str
    role: Role = Role.ANALYST

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def can_see(self, owner: str) -> bool:
        """Whether a job owned by `owner` is visible to this user."""
        return self.is_admin or owner == self.id


LOCAL = User("local", "Local user", Role.ADMIN)


def check_user_id(user_id: str) -> str:
    """A valid account name (lower case letters, digits, . _ @ -; at most 64), or an AccountError."""
    if user_id == LOCAL.id or not USER_ID.fullmatch(user_id):
        raise AccountError(
            f"{user_id!r} cannot be an account name: use 1-64 lower-case letters, digits, '.', '_', '@' or '-' "
            f"(and not {LOCAL.id!r}, the name of the single user of a server without sign-in)."
        )
    return user_id


def read_accounts(path: Path) -> dict[str, dict]:
    """The accounts in the file (empty if there is no file)."""
    if not path.is_file():
        return {}
    try:
        return dict(json.loads(path.read_text())["users"])
    except (ValueError, KeyError, TypeError) as exc:
        message = f"The account file {path} is damaged ({exc}); restore it or add the accounts again."
        raise AccountError(message) from exc


def _write_accounts(path: Path, accounts: Mapping[str, dict]) -> None:
    """Replace the file in one step, readable only by its owner."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as out:
        json.dump({"users": dict(sorted(accounts.items()))}, out, indent=2)
    os.chmod(scratch, 0o600)
    os.replace(scratch, path)


def add_account(path: Path, user_id: str, password: str, role: Role = Role.ANALYST, name: str = "") -> User:
    """Add an account, or set a new password, role and name for an existing one."""
    check_user_id(user_id)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password is too short: use at least {MIN_PASSWORD_LENGTH} characters.")
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()
    accounts = read_accounts(path)
    accounts[user_id] = {"name": name or user_id, "role": Role(role).value, "password": hashed}
    _write_accounts(path, accounts)
    return User(user_id, name or user_id, Role(role))


def remove_account(path: Path, user_id: str) -> None:
    """Remove an account (its jobs stay, owned by the same id, visible to admins)."""
    accounts = read_accounts(path)
    if accounts.pop(user_id, None) is None:
        raise AccountError(f"There is no account {user_id!r} in {path}.")
    _write_accounts(path, accounts)


def account_user(path: Path, user_id: str) -> User | None:
    """The user of an account as the file says now (None once the account is removed)."""
    entry = read_accounts(path).get(user_id)
    return User(user_id, entry.get("name") or user_id, Role(entry.get("role", Role.ANALYST))) if entry else None


@cache
def _unused_hash() -> bytes:
    """A hash to check unknown names against: the same work as for a real account, no timing hint (made once, on
    the first sign-in: a bcrypt hash takes about 0.3 s, which importing this module should not cost)."""
    return bcrypt.hashpw(b"no such user", bcrypt.gensalt())


def verify_password(path: Path, user_id: str, password: str) -> User | None:
    """The user when the password matches the account's hash; None otherwise (unknown name included)."""
    entry = read_accounts(path).get(user_id.strip().lower())
    hashed = entry["password"].encode() if entry else _unused_hash()
    if not bcrypt.checkpw(password.encode(), hashed) or entry is None:
        return None
    return account_user(path, user_id.strip().lower())


def user_from_claims(claims: Mapping[str, object], admins: frozenset[str]) -> User:
    """The user an identity provider signed in (OpenID Connect claims, as `st.user` holds them).

    The id is the e-mail when the provider gives one (lower case), else the provider's subject `sub`;
    admins are listed by that id (SARCOLOR_ADMINS).
    """
    user_id = str(claims.get("email") or claims.get("sub") or "").strip().lower()
    if not user_id or user_id == LOCAL.id:
        raise AccountError("The identity provider did not say who signed in (no e-mail or subject in its answer).")
    name = str(claims.get("name") or user_id)
    return User(user_id, name, Role.ADMIN if user_id in admins else Role.ANALYST)
