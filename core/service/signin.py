"""The built-in sign-in's two server-side guards: failures slow down, and a sign-in outlives a reload.

`SignInThrottle`: repeated wrong passwords, per account and per client (an address, or a browser key where the
server sees none), make the next try wait: the first `FREE_FAILURES` of an account are free, then each failure
locks it for `BASE_LOCK_S` x 2^(failures beyond them), at most `MAX_LOCK_S`; a client gets `CLIENT_FREE_FAILURES`.
A try during the lock is refused before the password is checked, and does not count. Failures are forgotten
`FORGET_S` after the last one, and a right password clears its account's and client's count. Kept in the server's
memory: a restart forgets them.

`SignInTokens`: a signed, expiring token for the sign-in cookie, `<user>.<expiry>.<nonce>.<HMAC-SHA256>`, the
HMAC over the user id, the expiry, the nonce and the browser's key (`dashboard.downloads.BROWSER_COOKIE`), so a
token works only beside the browser key it was issued with. The secret is 32 random bytes in `signin.key` in the
var dir (0600; delete it to end every sign-in). Signing out revokes the token's nonce (`signin_revoked.json`,
0600, kept until the token would have expired).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FREE_FAILURES = 5  # wrong passwords an account may have before it waits
CLIENT_FREE_FAILURES = 20  # one client, across accounts
BASE_LOCK_S = 30.0
MAX_LOCK_S = 15 * 60.0
FORGET_S = 60 * 60.0  # failures older than this (after the last one) no longer count
LIFETIME_S = 12 * 3600  # how long a sign-in lasts without signing in again
KEY_FILE, REVOKED_FILE = "signin.key", "signin_revoked.json"
Clock = Callable[[], float]


@dataclass
class _Failures:
    count: int
    last: float


def lock_seconds(failures: int, free: int) -> float:
    """How long a key with `failures` consecutive failures waits after the last one (0: not locked)."""
    if failures < free:
        return 0.0
    return min(BASE_LOCK_S * 2 ** (failures - free), MAX_LOCK_S)


class TooManyFailures(Exception):
    """A sign-in refused before its password was checked; the message says what to do and when."""


class SignInThrottle:
    """Failed sign-ins per account and per client, and the wait they impose (thread-safe, in memory)."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], _Failures] = {}

    def _wait(self, key: tuple[str, str], free: int, now: float) -> float:
        entry = self._failures.get(key)
        if entry is None or now - entry.last > FORGET_S:
            return 0.0
        return max(0.0, entry.last + lock_seconds(entry.count, free) - now)

    def check(self, account: str, client: str) -> None:
        """Raise `TooManyFailures` while the account or the client must wait."""
        now = self._clock()
        with self._lock:
            account_wait = self._wait(("account", account), FREE_FAILURES, now)
            client_wait = self._wait(("client", client), CLIENT_FREE_FAILURES, now)
        if account_wait > 0:
            raise TooManyFailures(f"Too many failed sign-ins for this account; try again in {account_wait:.0f} s.")
        if client_wait > 0:
            raise TooManyFailures(f"Too many failed sign-ins from this browser; try again in {client_wait:.0f} s.")

    def failed(self, account: str, client: str) -> None:
        """Count a wrong password for the account and the client."""
        now = self._clock()
        with self._lock:
            self._forget_old(now)
            for key in (("account", account), ("client", client)):
                entry = self._failures.get(key)
                if entry is None or now - entry.last > FORGET_S:
                    entry = self._failures[key] = _Failures(0, now)
                entry.count, entry.last = entry.count + 1, now

    def succeeded(self, account: str, client: str) -> None:
        """A right password: the account and the client start afresh."""
        with self._lock:
            self._failures.pop(("account", account), None)
            self._failures.pop(("client", client), None)

    def _forget_old(self, now: float) -> None:
        """Drop counts nobody added to for `FORGET_S` (memory stays bounded by an hour's failures)."""
        for key in [k for k, entry in self._failures.items() if now - entry.last > FORGET_S]:
            del self._failures[key]


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


def _private_write(path: Path, data: bytes) -> None:
    """Replace `path` in one step with a file readable only by its owner."""
    fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(scratch, 0o600)
    os.replace(scratch, path)


class SignInTokens:
    """Issue, check and revoke the sign-in cookie's tokens, signed with the var dir's secret."""

    def __init__(self, folder: str | Path, lifetime_s: int = LIFETIME_S, clock: Clock = time.time) -> None:
        self.folder, self.lifetime_s, self._clock = Path(folder), lifetime_s, clock
        self._lock = threading.Lock()
        self._secret = self._load_secret()

    def _load_secret(self) -> bytes:
        """The server's secret, made (0600) on first use."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.folder / KEY_FILE
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
        return bytes.fromhex(path.read_text().strip())

    def _mac(self, user_id: str, expires: int, nonce: str, browser_key: str) -> str:
        message = f"{user_id}|{expires}|{nonce}|{browser_key}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def issue(self, user_id: str, browser_key: str) -> str:
        """A token saying `user_id` signed in in the browser with `browser_key`, valid for `lifetime_s`."""
        expires, nonce = int(self._clock()) + self.lifetime_s, secrets.token_hex(16)
        return f"{_b64(user_id)}.{expires}.{nonce}.{self._mac(user_id, expires, nonce, browser_key)}"

    def verify(self, token: str | None, browser_key: str | None) -> str | None:
        """The user id of a valid token (untampered, unexpired, not signed out, this browser's); None otherwise."""
        try:
            encoded, expires_text, nonce, mac = (token or "").split(".")
            user_id, expires = _unb64(encoded), int(expires_text)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        expected = self._mac(user_id, expires, nonce, browser_key or "")
        if not browser_key or not hmac.compare_digest(mac, expected) or expires <= self._clock():
            return None
        return None if nonce in self._revoked() else user_id

    def revoke(self, token: str | None) -> None:
        """Sign out: the token is refused from now on, even by a server restarted before it expires."""
        parts = (token or "").split(".")
        if len(parts) != 4 or not parts[1].isdigit():
            return
        with self._lock:
            now = self._clock()
            revoked = {nonce: until for nonce, until in self._revoked().items() if until > now}
            revoked[parts[2]] = int(parts[1])
            _private_write(self.folder / REVOKED_FILE, json.dumps(revoked).encode())

    def _revoked(self) -> dict[str, int]:
        """Nonce -> expiry of the tokens signed out before they expired."""
        try:
            return dict(json.loads((self.folder / REVOKED_FILE).read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return {}

    def seconds_left(self, token: str) -> int:
        """How long a (verified) token has until it expires: the cookie's Max-Age."""
        return max(0, int(token.split(".")[1]) - int(self._clock()))
