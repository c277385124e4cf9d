"""Web/API users: roles, hashed passwords, hashed API keys (the ``users`` table).

Passwords are hashed with scrypt (``hashlib.scrypt``, a memory-hard KDF in the standard library);
API keys are 256-bit random tokens, so a plain SHA-256 of the key is enough to store them safely
and lets a request be matched to its user with one equality lookup.

>>> import cxlens
>>> ws = cxlens.open("demo-workspace")                                  # doctest: +SKIP
>>> add_user(ws, "li.na", "analyst", password="correct horse battery")  # doctest: +SKIP
>>> authenticate(ws, "li.na", "correct horse battery")["role"]         # doctest: +SKIP
'analyst'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime
from typing import Any, Final, Literal, get_args

from cxlens.errors import InputError, NotFoundError
from cxlens.workspace import Workspace

Role = Literal["admin", "analyst", "agent", "service"]
ROLES: Final[tuple[str, ...]] = get_args(Role)

# What each role may do (DESIGN.md "Security"). Routes ask for a permission, never a role name.
PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    "aggregates": frozenset({"admin", "analyst"}),  # KPI pages, charts, quality, workforce
    "contacts": frozenset({"admin", "analyst"}),  # drill-down lists of contacts (many customers)
    "export": frozenset({"admin", "analyst"}),  # CSV downloads
    "profile": frozenset({"admin", "analyst", "agent"}),  # one customer's 360, by identifier
    "docs": frozenset({"admin", "analyst", "agent", "service"}),  # OpenAPI pages
    "service": frozenset({"admin", "service"}),  # machine endpoints (ingest, decide)
    "users": frozenset({"admin"}),
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
KEY_PREFIX: Final = "cxk_"


def allowed(role: str, permission: str) -> bool:
    """Whether ``role`` holds ``permission`` (unknown permissions are refused)."""
    return role in PERMISSIONS.get(permission, frozenset())


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64), with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check of ``password`` against a :func:`hash_password` string."""
    if not stored or not stored.startswith("scrypt$"):
        # Spend the same time as a real check so response times don't reveal unknown users.
        hash_password(password)
        return False
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def hash_key(key: str) -> str:
    return "sha256$" + hashlib.sha256(key.encode()).hexdigest()


def _check_name(username: str) -> str:
    if not _NAME.match(username):
        raise InputError(
            f"invalid user name {username!r}",
            "use 1-64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit",
        )
    return username


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}", f"roles: {', '.join(ROLES)}")
    return role


def get_user(ws: Workspace, username: str) -> dict[str, Any] | None:
    """The user's row, or None."""
    users = ws.warehouse.table("users")
    rows = users.filter(users.username == username).to_pyarrow().to_pylist()
    return rows[0] if rows else None


def list_users(ws: Workspace) -> list[dict[str, Any]]:
    """Every user without the secret columns, by name."""
    users = ws.warehouse.table("users")
    rows = users.order_by("username").to_pyarrow().to_pylist()
    return [
        {
            "username": r["username"],
            "role": r["role"],
            "created_at": r["created_at"],
            "disabled": bool(r["disabled"]),
            "has_password": bool(r["password_hash"]),
            "has_api_key": bool(r["api_key_hash"]),
        }
        for r in rows
    ]


def add_user(
    ws: Workspace,
    username: str,
    role: str,
    password: str | None = None,
    *,
    with_key: bool = False,
    replace: bool = False,
    check_policy: bool = True,
) -> str | None:
    """Create a user; returns a new API key when ``with_key`` (shown once, stored hashed).

    Raises InputError for a bad name, role or short password, or when the user exists and
    ``replace`` is false.
    """
    _check_name(username)
    _check_role(role)
    if password is not None and check_policy:
        minimum = ws.settings.security.min_password_length
        if len(password) < minimum:
            raise InputError(
                f"password too short ({len(password)} characters)",
                f"use at least {minimum} characters",
            )
    if password is None and not with_key:
        raise InputError(
            f"user {username!r} needs a password or an API key",
            "pass a password, or create a key with `cxlens user key NAME`",
        )
    if not replace and get_user(ws, username) is not None:
        raise InputError(
            f"user {username!r} already exists",
            f"`cxlens user key {username}` issues a new API key",
        )
    key = new_key() if with_key else None
    ws.warehouse.upsert(
        "users",
        [
            {
                "username": username,
                "role": role,
                "password_hash": hash_password(password) if password is not None else None,
                "api_key_hash": hash_key(key) if key else None,
                "created_at": datetime.now(UTC).replace(tzinfo=None),
                "disabled": False,
            }
        ],
        keys=("username",),
    )
    return key


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def issue_key(ws: Workspace, username: str) -> str:
    """Give ``username`` a new API key (the old one stops working) and return it."""
    user = get_user(ws, username)
    if user is None:
        raise NotFoundError(f"no user {username!r}", "create it with `cxlens user add`")
    key = new_key()
    user["api_key_hash"] = hash_key(key)
    ws.warehouse.upsert("users", [user], keys=("username",))
    return key


def set_disabled(ws: Workspace, username: str, disabled: bool = True) -> None:
    """Disable (or re-enable) a user: their sessions and key stop working at once."""
    user = get_user(ws, username)
    if user is None:
        raise NotFoundError(f"no user {username!r}", "see `cxlens user list`")
    user["disabled"] = disabled
    ws.warehouse.upsert("users", [user], keys=("username",))


def authenticate(ws: Workspace, username: str, password: str) -> dict[str, Any] | None:
    """The user row when the password matches and the user is enabled, else None."""
    user = get_user(ws, username) if _NAME.match(username) else None
    ok = verify_password(password, user["password_hash"] if user else None)
    if not ok or user is None or user["disabled"]:
        return None
    return user


def user_for_key(ws: Workspace, key: str) -> dict[str, Any] | None:
    """The enabled user owning API ``key``, else None."""
    if not key.startswith(KEY_PREFIX):
        return None
    users = ws.warehouse.table("users")
    rows = users.filter(users.api_key_hash == hash_key(key)).to_pyarrow().to_pylist()
    if not rows or rows[0]["disabled"]:
        return None
    return rows[0]
