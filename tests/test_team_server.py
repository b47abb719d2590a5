"""Issue 19: a server a team shares. Each analyst's own jobs, sign-in (account file and OpenID Connect claims),
limits per user; through the store, the runner, the CLI and the real app (AppTest)."""

from __future__ import annotations

import io
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_dashboard_pages import APP, _map_args

import core.service.runner
from core.cli import main as cli_main
from core.colorize import ColorizeOptions
from core.errors import AccountError, InvalidSettingsError, StorageLimitError, UserLimitError
from core.model.checkpoints import save_checkpoint, untrained_model
from core.model.networks import GeneratorConfig
from core.samples import default_sample
from core.service.jobs import JobStore
from core.service.runner import JobRunner
from core.service.users import (
    LOCAL,
    Role,
    User,
    add_account,
    read_accounts,
    remove_account,
    user_from_claims,
    verify_password,
)
from core.settings import Limits

ALICE, BOB = User("alice", "Alice"), User("bob", "Bob")
ADMIN = User("boss", "Boss", Role.ADMIN)
PASSWORD = "correct horse battery"


# --- the store: every read checks the user --------------------------------------------------------------------


def test_each_user_sees_only_their_jobs_admin_sees_all(tmp_path):
    store = JobStore(tmp_path)
    mine = store.create(ALICE, "a.tif", store.store_upload("a.tif", io.BytesIO(b"alice's scene")))
    theirs = store.create(BOB, "b.tif", store.store_upload("b.tif", io.BytesIO(b"bob's scene")))
    assert [j.id for j in store.list(ALICE)] == [mine.id] and [j.id for j in store.list(BOB)] == [theirs.id]
    assert {j.id for j in store.list(ADMIN)} == {mine.id, theirs.id}
    assert store.get(theirs.id, ALICE) is None  # another user's job: not found
    assert store.get(theirs.id, ADMIN).owner == "bob"
    store.delete(theirs.id, ALICE)  # not found for her: nothing happens
    assert store.get(theirs.id, BOB) is not None and Path(store.get(theirs.id, BOB).stored_path).exists()
    store.delete(theirs.id, BOB)
    assert store.get(theirs.id, ADMIN) is None


def test_history_from_before_users_belongs_to_the_local_user(tmp_path):
    """A jobs table without the owner column (as written before issue 19) is migrated at open: jobs kept, owned by
    'local', whom a server without sign-in uses."""
    with sqlite3.connect(tmp_path / "jobs.sqlite") as db:
        db.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, created_at REAL NOT NULL, file_name TEXT NOT NULL, "
                   "stored_path TEXT NOT NULL, status TEXT NOT NULL, settings TEXT, result TEXT)")
        db.execute("INSERT INTO jobs VALUES ('old1', 1.0, 'old.tif', '/x/old.tif', 'done', '{}', '')")
    store = JobStore(tmp_path)
    (job,) = store.list(LOCAL)
    assert (job.id, job.owner, job.file_name, job.status) == ("old1", "local", "old.tif", "done")
    assert store.get("old1", ALICE) is None and store.get("old1", ADMIN) is not None


def test_stored_bytes_and_oldest_offered_for_deletion(tmp_path):
    store = JobStore(tmp_path)
    jobs = []
    for size in (3000, 2000, 1000):
        job = store.create(ALICE, "s.tif", store.store_upload("s.tif", io.BytesIO(b"x" * size)))
        store.update(job.id, status="done")
        jobs.append(job)
        time.sleep(0.01)
    store.create(BOB, "b.tif", store.store_upload("b.tif", io.BytesIO(b"y" * 50_000)))
    assert store.stored_bytes(ALICE) == 6000
    assert [j.id for j in store.oldest_to_free(ALICE, 4000)] == [jobs[0].id]  # 3000 freed: 3000 < 4000
    assert [j.id for j in store.oldest_to_free(ALICE, 2500)] == [jobs[0].id, jobs[1].id]
    assert store.oldest_to_free(ALICE, 10_000) == []
    assert store.stored_bytes(ALICE) == 6000  # offering deletes nothing


# --- accounts, claims, settings, CLI ---------------------------------------------------------------------------


def test_account_file_keeps_only_bcrypt_hashes(tmp_path):
    path = tmp_path / "accounts.json"
    add_account(path, "alice", PASSWORD, name="Alice A.")
    add_account(path, "boss", PASSWORD + "!", Role.ADMIN)
    text = path.read_text()
    assert PASSWORD not in text and read_accounts(path)["alice"]["password"].startswith("$2b$12$")
    assert path.stat().st_mode & 0o777 == 0o600
    assert verify_password(path, "alice", PASSWORD) == User("alice", "Alice A.", Role.ANALYST)
    assert verify_password(path, " Alice ", PASSWORD) is not None  # names are case-blind
    assert verify_password(path, "alice", PASSWORD + "!") is None
    assert verify_password(path, "nobody", PASSWORD) is None
    assert verify_password(path, "boss", PASSWORD + "!").is_admin
    remove_account(path, "alice")
    assert verify_password(path, "alice", PASSWORD) is None
    with pytest.raises(AccountError, match="too short"):
        add_account(path, "carol", "short")
    with pytest.raises(AccountError, match="cannot be an account name"):
        add_account(path, "local", PASSWORD)
    with pytest.raises(AccountError, match="no account 'zed'"):
        remove_account(path, "zed")


def test_identity_provider_claims_map_to_users():
    admins = frozenset({"boss@team.example"})
    assert user_from_claims({"email": "Ana@Team.example", "name": "Ana", "sub": "123"}, admins) == User(
        "ana@team.example", "Ana", Role.ANALYST)
    assert user_from_claims({"email": "boss@team.example"}, admins).is_admin
    assert user_from_claims({"sub": "abc-123"}, admins) == User("abc-123", "abc-123", Role.ANALYST)
    with pytest.raises(AccountError, match="did not say who signed in"):
        user_from_claims({"is_logged_in": True}, admins)


@pytest.mark.parametrize("name", ["SARCOLOR_USER_MAX_RUNNING_JOBS", "SARCOLOR_USER_MAX_QUEUED_JOBS",
                                  "SARCOLOR_USER_MAX_STORED_MB"])
def test_user_limits_from_settings(monkeypatch, name):
    assert Limits.from_env().user_queued_jobs is None  # unset: no limit of one's own
    monkeypatch.setenv(name, "3")
    assert 3 in (Limits.from_env().user_running_jobs, Limits.from_env().user_queued_jobs,
                 Limits.from_env().user_stored_mb)
    monkeypatch.setenv(name, "lots")
    with pytest.raises(InvalidSettingsError, match=f"{name} must be a positive whole number"):
        Limits.from_env()


def test_users_cli(tmp_path, monkeypatch, capsys):
    path = tmp_path / "accounts.json"
    monkeypatch.setenv("SARCOLOR_ACCOUNTS", str(path))
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli_main(["users", "add", "alice", "--password-stdin", "--full-name", "Alice A."]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli_main(["users", "add", "boss", "--admin", "--password-stdin"]) == 0
    assert verify_password(path, "alice", PASSWORD).name == "Alice A."
    capsys.readouterr()
    assert cli_main(["users", "list"]) == 0
    listed = capsys.readouterr().out
    assert "alice" in listed and "Alice A." in listed and "admin" in listed and PASSWORD not in listed
    assert cli_main(["users", "remove", "alice"]) == 0
    assert cli_main(["users", "remove", "alice"]) == 2
    assert "error: There is no account 'alice'" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli_main(["users", "add", "carol", "--password-stdin"]) == 2
    assert list(read_accounts(path)) == ["boss"]


# --- the runner: limits per user, others unaffected ------------------------------------------------------------


@pytest.fixture
def gated_runner(tmp_path, monkeypatch):
    """A runner whose jobs wait at a gate before colorizing (the real pipeline, just held back)."""
    gate, real = threading.Event(), core.service.runner.colorize

    def held(*args, **kwargs):
        gate.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(core.service.runner, "colorize", held)
    limits = Limits(max_concurrent_jobs=2, user_running_jobs=1, user_queued_jobs=2)
    yield JobRunner(JobStore(tmp_path), limits), gate
    gate.set()


def test_user_limits_on_running_and_queued_jobs(gated_runner):
    runner, gate = gated_runner
    model, sample = untrained_model(GeneratorConfig(ngf=4)), default_sample()

    def start(user):
        return runner.start(user, sample.sar.name, sample.sar, model, ColorizeOptions())

    alice = [start(ALICE) for _ in range(3)]  # one runs, two wait: her own running limit is 1
    with pytest.raises(UserLimitError, match=r"2 job\(s\) waiting.*SARCOLOR_USER_MAX_QUEUED_JOBS = 2"):
        start(ALICE)
    bob = start(BOB)  # the second slot goes to Bob, ahead of Alice's waiting jobs
    deadline = time.monotonic() + 20
    while {runner.store.get(j.id, ADMIN).status for j in (alice[0], bob)} != {"running"}:
        assert time.monotonic() < deadline, "the first jobs of Alice and Bob did not both start"
        time.sleep(0.02)
    statuses = [runner.store.get(j.id, ALICE).status for j in alice]
    assert statuses == ["running", "queued", "queued"] and runner.store.get(bob.id, BOB).status == "running"
    assert runner.queue_position(alice[1].id) == 1
    gate.set()
    assert all(runner.wait(j.id, 120) for j in [*alice, bob])
    assert {runner.store.get(j.id, ADMIN).status for j in [*alice, bob]} == {"done"}
    assert runner.waiting(ALICE) == 0


def test_storage_limit_refuses_new_jobs_of_that_user_only(tmp_path):
    store = JobStore(tmp_path)
    runner = JobRunner(store, Limits(user_stored_mb=1))
    old = store.create(ALICE, "big.tif", store.store_upload("big.tif", io.BytesIO(b"x" * 1_200_000)))
    store.update(old.id, status="done")
    model, sample = untrained_model(GeneratorConfig(ngf=4)), default_sample()
    with pytest.raises(StorageLimitError, match=r"1\.2 MB, over your limit of 1 MB.*SARCOLOR_USER_MAX_STORED_MB"):
        runner.start(ALICE, sample.sar.name, sample.sar, model, ColorizeOptions())
    assert store.get(old.id, ALICE) is not None  # nothing deleted behind her back
    job = runner.start(BOB, sample.sar.name, sample.sar, model, ColorizeOptions())
    assert runner.wait(job.id, 120) and store.get(job.id, BOB).status == "done"


# --- through the real app --------------------------------------------------------------------------------------


@pytest.fixture
def team(tmp_path, monkeypatch) -> dict[str, Path]:
    """A small checkpoint, an empty var dir and three accounts: alice, bob (analysts), boss (admin)."""
    models, var = tmp_path / "models", tmp_path / "var"
    save_checkpoint(models / "default.pt", untrained_model(GeneratorConfig(ngf=8)).generator)
    monkeypatch.setenv("SARCOLOR_MODELS_DIR", str(models))
    monkeypatch.setenv("SARCOLOR_VAR_DIR", str(var))
    monkeypatch.setenv("SARCOLOR_RUNS_DIR", str(tmp_path / "runs"))
    for user in (ALICE, BOB, ADMIN):
        add_account(var / "accounts.json", user.id, PASSWORD, user.role, user.name)
    return {"models": models, "var": var}


def _signed_in(user_id: str, password: str = PASSWORD) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.text_input(key="sign_in_name").input(user_id)
    at.text_input(key="sign_in_password").input(password)
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _history(at: AppTest):
    at.switch_page("views/history.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at.dataframe[0].value if at.dataframe else None


def _colorize_sample(at: AppTest) -> None:
    at.button(key="run").click().run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]


def test_signed_out_visitor_sees_only_the_sign_in_page(team):
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Sign in to sarcolor"]
    assert not at.get("download_button") and not at.dataframe and not at.selectbox
    with pytest.raises(ValueError, match=r"Known pages: \['Sign in'\]"):  # the only page there is
        at.switch_page("views/history.py")
    at.text_input(key="sign_in_name").input("alice")
    at.text_input(key="sign_in_password").input("wrong password!")
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert "wrong password" in at.error[0].value and [t.value for t in at.title] == ["Sign in to sarcolor"]


def test_two_analysts_see_only_their_own_jobs_admin_sees_both(team):
    alice = _signed_in("alice")
    assert "Signed in as **Alice**" in " ".join(c.value for c in alice.sidebar.caption)
    _colorize_sample(alice)
    alice_job = JobStore(team["var"]).list(ALICE)[0]
    assert alice_job.owner == "alice" and alice_job.status == "done"
    # no browser key (the app run without dashboard/serve.py's guard): a team server offers no download at all
    assert not alice.get("download_button") and any("dashboard/serve.py" in w.value for w in alice.warning)

    bob = _signed_in("bob")
    assert _history(bob) is None and "No job yet" in bob.info[0].value  # nothing of Alice's
    bob.switch_page("views/colorize.py").run()
    bob.session_state["job_id"] = alice_job.id  # Alice's job id in Bob's session: not found, nothing shown
    bob.run()
    assert not bob.get("download_button") and not bob.get("component_instance") and not bob.metric
    _colorize_sample(bob)
    assert "Analyst" not in _history(bob).columns and len(_history(bob)) == 1

    table = _history(_signed_in("boss"))
    assert sorted(table["Analyst"]) == ["alice", "bob"] and len(table) == 2
    alice_view = _history(alice)
    assert list(alice_view["Job"]) == [alice_job.id]


def test_removed_account_is_signed_out(team):
    at = _signed_in("bob")
    remove_account(team["var"] / "accounts.json", "bob")
    at.run()
    assert "Sign in to sarcolor" in [t.value for t in at.title] and at.text_input(key="sign_in_password")
    assert not [b for b in at.button if b.key in ("run", "sign_out")] and not at.radio


def test_identity_provider_user_through_the_same_path(team, monkeypatch):
    """`[auth]` configured: `st.user`'s claims become the user; signed out, only the provider's sign-in button."""
    monkeypatch.setenv("SARCOLOR_ADMINS", "boss@team.example")
    secrets = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s" * 32,
                        "client_id": "sarcolor", "client_secret": "x",
                        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}}
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.secrets, at.user = secrets, {"is_logged_in": False}
    at.run()
    assert [t.value for t in at.title] == ["Sign in to sarcolor"] and at.button(key="sign_in_provider")
    assert not at.text_input  # no password form when the provider signs people in

    carol = AppTest.from_file(str(APP), default_timeout=120)
    carol.secrets, carol.user = secrets, {"is_logged_in": True, "email": "Carol@Team.example", "name": "Carol"}
    carol.run()
    _colorize_sample(carol)
    assert JobStore(team["var"]).list(ADMIN)[0].owner == "carol@team.example"
    boss = AppTest.from_file(str(APP), default_timeout=120)
    boss.secrets, boss.user = secrets, {"is_logged_in": True, "email": "boss@team.example", "name": "Boss"}
    boss.run()
    assert "admin" in " ".join(c.value for c in boss.sidebar.caption)
    dave = AppTest.from_file(str(APP), default_timeout=120)
    dave.secrets, dave.user = secrets, {"is_logged_in": True, "email": "dave@team.example", "name": "Dave"}
    dave.run()
    assert _history(dave) is None and len(_history(carol)) == 1


def test_no_configuration_opens_straight_into_the_app(tmp_path, monkeypatch):
    """No account file, no `[auth]`: the local user, no sign-in, no sign-out button (as before issue 19)."""
    monkeypatch.setenv("SARCOLOR_VAR_DIR", str(tmp_path / "var"))
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert [t.value for t in at.title] == ["Colorize a Sentinel-1 scene"]
    assert not [b for b in at.button if b.label == "Sign out"]


def test_storage_limit_in_the_app_offers_the_oldest_results(team, monkeypatch):
    monkeypatch.setenv("SARCOLOR_USER_MAX_STORED_MB", "1")
    store = JobStore(team["var"])
    old = store.create(ALICE, "old scene.tif", store.store_upload("old.tif", io.BytesIO(b"x" * 1_500_000)))
    store.update(old.id, status="done")
    alice = _signed_in("alice")
    alice.button(key="run").click().run()
    assert "over your limit of 1 MB" in alice.error[0].value
    assert list(alice.dataframe[0].value["File"]) == ["old scene.tif"]  # offered, not deleted
    assert store.get(old.id, ALICE) is not None
    bob = _signed_in("bob")
    _colorize_sample(bob)  # Bob is not held back by Alice's storage
    _map_args(bob)
    alice.button(key="cleanup").click().run()
    assert store.get(old.id, ALICE) is None and not list((team["var"] / "uploads").glob("*old.tif"))
    _colorize_sample(alice)
    assert store.list(ALICE)[0].status == "done"
