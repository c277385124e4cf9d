"""Session cookies: signed, expiring, ended by a password change."""

from __future__ import annotations

from cxlens import users
from cxlens.server import auth

KEY = b"k" * 32


def _user(password: str = "pw-123456", role: str = "analyst", disabled: bool = False) -> dict:
    return {
        "username": "li",
        "role": role,
        "password_hash": users.hash_password(password),
        "api_key_hash": None,
        "disabled": disabled,
    }


def test_session_round_trip_and_tampering():
    user = _user()
    cookie = auth.make_session(KEY, user, hours=1)
    who = auth.read_session(KEY, cookie, {"li": user})
    assert who == auth.Principal("li", "analyst", "session")
    payload, sig = cookie.split(".")
    assert auth.read_session(KEY, payload + "." + sig[:-2] + "AA", {"li": user}) is None
    assert auth.read_session(b"other" * 8, cookie, {"li": user}) is None
    assert auth.read_session(KEY, "garbage", {"li": user}) is None
    assert auth.read_session(KEY, cookie, {}) is None  # user deleted


def test_session_expires_and_password_change_ends_it():
    user = _user()
    expired = auth.make_session(KEY, user, hours=-1)
    assert auth.read_session(KEY, expired, {"li": user}) is None
    cookie = auth.make_session(KEY, user, hours=1)
    changed = {**user, "password_hash": users.hash_password("new-password")}
    assert auth.read_session(KEY, cookie, {"li": changed}) is None
    assert auth.read_session(KEY, cookie, {"li": {**user, "disabled": True}}) is None


def test_api_key_lookup():
    key = users.new_key()
    user = {**_user(role="service"), "api_key_hash": users.hash_key(key)}
    assert auth.principal_for_key(key, {"li": user}).via == "api_key"
    assert auth.principal_for_key(key + "x", {"li": user}) is None
    assert auth.principal_for_key("not-a-key", {"li": user}) is None


def test_limiter_blocks_after_attempts():
    limiter = auth.LoginLimiter(attempts=2)
    assert not limiter.blocked("li")
    limiter.failed("li")
    limiter.failed("li")
    assert limiter.blocked("li") and not limiter.blocked("other")
    limiter.succeeded("li")
    assert not limiter.blocked("li")


def test_session_key_file_is_private(tmp_path):
    key = auth.session_key(tmp_path, "")
    assert len(key) == 32 and auth.session_key(tmp_path, "") == key
    assert (tmp_path / auth.KEY_FILE).stat().st_mode & 0o077 == 0
    assert auth.session_key(tmp_path, "configured") != key
