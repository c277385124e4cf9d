"""Users: hashing, validation, keys, disabling."""

from __future__ import annotations

import pytest

from cxlens import users
from cxlens.errors import InputError, NotFoundError


def test_password_hash_is_salted_and_verifies():
    a, b = users.hash_password("s3cret-pass"), users.hash_password("s3cret-pass")
    assert a != b and a.startswith("scrypt$")
    assert users.verify_password("s3cret-pass", a)
    assert not users.verify_password("s3cret-pasS", a)
    assert not users.verify_password("x", None)
    assert not users.verify_password("x", "scrypt$garbage")


def test_add_user_validates(make_workspace):
    ws = make_workspace("duckdb")
    with pytest.raises(InputError, match="invalid user name"):
        users.add_user(ws, "bad name!", "admin", "long enough pw")
    with pytest.raises(InputError, match="unknown role"):
        users.add_user(ws, "li", "boss", "long enough pw")
    with pytest.raises(InputError, match="too short"):
        users.add_user(ws, "li", "admin", "short")
    with pytest.raises(InputError, match="needs a password or an API key"):
        users.add_user(ws, "li", "admin")
    users.add_user(ws, "li", "analyst", "long enough pw")
    with pytest.raises(InputError, match="already exists"):
        users.add_user(ws, "li", "analyst", "long enough pw")
    stored = users.get_user(ws, "li")
    assert stored["role"] == "analyst" and "long enough pw" not in stored["password_hash"]
    assert users.authenticate(ws, "li", "long enough pw")["username"] == "li"
    assert users.authenticate(ws, "li", "wrong password") is None
    assert users.authenticate(ws, "nobody", "long enough pw") is None


def test_keys_are_stored_hashed_and_rotate(make_workspace):
    ws = make_workspace("duckdb")
    first = users.add_user(ws, "bot", "service", with_key=True)
    assert first.startswith(users.KEY_PREFIX)
    row = users.get_user(ws, "bot")
    assert first not in (row["api_key_hash"] or "") and row["password_hash"] is None
    assert users.user_for_key(ws, first)["username"] == "bot"
    second = users.issue_key(ws, "bot")
    assert users.user_for_key(ws, first) is None
    assert users.user_for_key(ws, second)["role"] == "service"
    users.set_disabled(ws, "bot")
    assert users.user_for_key(ws, second) is None
    with pytest.raises(NotFoundError):
        users.issue_key(ws, "ghost")
    listed = users.list_users(ws)
    assert listed == [
        {
            **listed[0],
            "username": "bot",
            "disabled": True,
            "has_api_key": True,
            "has_password": False,
        }
    ]
    assert "api_key_hash" not in listed[0]


def test_permissions_are_data():
    assert users.allowed("analyst", "export") and not users.allowed("agent", "export")
    assert users.allowed("agent", "profile") and not users.allowed("agent", "aggregates")
    assert users.allowed("service", "service") and not users.allowed("service", "profile")
    assert not users.allowed("admin", "no-such-permission")
