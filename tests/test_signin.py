"""The built-in sign-in's server-side guards (issue 30, item 12): failures slow down per account and per client,
and the sign-in cookie's token is signed, expiring, bound to its browser and revocable."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from core.service.signin import (
    BASE_LOCK_S,
    CLIENT_FREE_FAILURES,
    FORGET_S,
    FREE_FAILURES,
    KEY_FILE,
    MAX_LOCK_S,
    REVOKED_FILE,
    SignInThrottle,
    SignInTokens,
    TooManyFailures,
    lock_seconds,
)

KEY, OTHER_KEY = "a" * 32, "b" * 32


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_six_wrong_passwords_then_the_right_one_is_refused_before_it_is_checked() -> None:
    clock = Clock()
    throttle = SignInThrottle(clock)
    for _ in range(FREE_FAILURES):
        throttle.check("alice", "10.0.0.1")
        throttle.failed("alice", "10.0.0.1")
        clock.now += 1
    with pytest.raises(TooManyFailures, match=r"Too many failed sign-ins for this account; try again in 2\d s"):
        throttle.check("alice", "10.0.0.1")  # the sixth try, wrong or right, waits
    with pytest.raises(TooManyFailures, match="for this account"):
        throttle.check("alice", "10.0.0.2")  # from another client too
    throttle.check("bob", "10.0.0.3")  # another account from elsewhere is not slowed down
    clock.now += BASE_LOCK_S
    throttle.check("alice", "10.0.0.1")  # the lock is over: the next try is checked


def test_the_lock_doubles_up_to_its_ceiling_and_is_forgotten() -> None:
    assert [lock_seconds(n, FREE_FAILURES) for n in range(FREE_FAILURES + 3)] == [0.0] * FREE_FAILURES + [
        BASE_LOCK_S, 2 * BASE_LOCK_S, 4 * BASE_LOCK_S]
    assert lock_seconds(FREE_FAILURES + 30, FREE_FAILURES) == MAX_LOCK_S
    clock = Clock()
    throttle = SignInThrottle(clock)
    for _ in range(FREE_FAILURES + 1):
        throttle.failed("alice", "c")
    with pytest.raises(TooManyFailures, match=f"in {2 * BASE_LOCK_S:.0f} s"):
        throttle.check("alice", "c")
    clock.now += FORGET_S + 1
    throttle.check("alice", "c")
    throttle.failed("alice", "c")  # counting starts again from one
    throttle.check("alice", "c")


def test_one_client_trying_many_accounts_is_slowed_down() -> None:
    throttle = SignInThrottle(Clock())
    for n in range(CLIENT_FREE_FAILURES):
        throttle.failed(f"user{n}", "10.0.0.9")
    with pytest.raises(TooManyFailures, match="from this browser"):
        throttle.check("someone", "10.0.0.9")
    throttle.check("someone", "10.0.0.10")


def test_a_right_password_clears_the_count() -> None:
    throttle = SignInThrottle(Clock())
    for _ in range(FREE_FAILURES - 1):
        throttle.failed("alice", "c")
    throttle.succeeded("alice", "c")
    for _ in range(FREE_FAILURES - 1):
        throttle.failed("alice", "c")
    throttle.check("alice", "c")


def test_a_token_names_its_user_in_its_browser_only(tmp_path: Path) -> None:
    tokens = SignInTokens(tmp_path, lifetime_s=3600)
    token = tokens.issue("alice", KEY)
    assert tokens.verify(token, KEY) == "alice"
    assert SignInTokens(tmp_path).verify(token, KEY) == "alice"  # a restarted server reads the same secret
    assert tokens.verify(token, OTHER_KEY) is None  # copied into another browser
    assert tokens.verify(token, None) is None
    assert 3590 < tokens.seconds_left(token) <= 3600
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600


@pytest.mark.parametrize("part", [0, 1, 2, 3])
def test_a_tampered_token_is_refused(tmp_path: Path, part: int) -> None:
    tokens = SignInTokens(tmp_path)
    pieces = tokens.issue("alice", KEY).split(".")
    replacement = {0: "Ym9zcw", 1: str(int(pieces[1]) + 10**6), 2: "0" * 32, 3: "f" * 64}[part]  # boss, later...
    pieces[part] = replacement
    assert tokens.verify(".".join(pieces), KEY) is None


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c.d", "!!.1.2.3", "x" * 5000])
def test_malformed_tokens_are_refused(tmp_path: Path, token: str) -> None:
    assert SignInTokens(tmp_path).verify(token, KEY) is None


def test_an_expired_token_is_refused(tmp_path: Path) -> None:
    clock = Clock()
    tokens = SignInTokens(tmp_path, lifetime_s=60, clock=clock)
    token = tokens.issue("alice", KEY)
    clock.now += 59
    assert tokens.verify(token, KEY) == "alice"
    clock.now += 1
    assert tokens.verify(token, KEY) is None


def test_another_servers_secret_does_not_sign(tmp_path: Path) -> None:
    token = SignInTokens(tmp_path / "one").issue("alice", KEY)
    assert SignInTokens(tmp_path / "two").verify(token, KEY) is None


def test_a_signed_out_token_stays_refused(tmp_path: Path) -> None:
    clock = Clock()
    tokens = SignInTokens(tmp_path, lifetime_s=60, clock=clock)
    token, other = tokens.issue("alice", KEY), tokens.issue("alice", OTHER_KEY)
    tokens.revoke(token)
    assert tokens.verify(token, KEY) is None
    assert SignInTokens(tmp_path, clock=clock).verify(token, KEY) is None  # after a restart too
    assert tokens.verify(other, OTHER_KEY) == "alice"  # her sign-in in another browser goes on
    assert stat.S_IMODE((tmp_path / REVOKED_FILE).stat().st_mode) == 0o600
    clock.now += 61
    tokens.revoke(other)  # revoking prunes what has expired anyway
    assert list(tokens._revoked()) == [other.split(".")[2]]
