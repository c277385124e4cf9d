"""Credentials: signed session cookies for people, API keys for programs.

A session cookie is ``base64(json{u, exp, v}).hmac`` signed with the server's key; ``v`` is a
digest of the user's password hash, so changing the password (or disabling the user) ends every
session at once. API keys arrive as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.
Roles are checked as permissions (``cxlens.users.PERMISSIONS``), never by role name in routes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cxlens import users as users_mod

SESSION_COOKIE = "cxlens_session"
KEY_FILE = ".session-key"
_LOCKOUT_WINDOW_S = 300.0


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user name, a role, and how they proved it."""

    username: str
    role: str
    via: str  # "session" or "api_key"

    def can(self, permission: str) -> bool:
        return users_mod.allowed(self.role, permission)


def session_key(workspace: Path, configured: str) -> bytes:
    """The signing key: the configured secret, else a random one kept in the workspace."""
    if configured:
        return hashlib.sha256(configured.encode()).digest()
    path = workspace / KEY_FILE
    if not path.exists():
        # O_EXCL: two servers starting at once must not write two different keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def _password_tag(user: dict[str, Any]) -> str:
    return hashlib.sha256((user.get("password_hash") or "").encode()).hexdigest()[:12]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_session(key: bytes, user: dict[str, Any], hours: float) -> str:
    body = json.dumps(
        {"u": user["username"], "exp": int(time.time() + hours * 3600), "v": _password_tag(user)},
        separators=(",", ":"),
    ).encode()
    payload = _b64(body)
    signature = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def read_session(key: bytes, cookie: str, known: dict[str, dict[str, Any]]) -> Principal | None:
    """The principal of a valid, unexpired cookie whose user still exists, else None."""
    payload, _, signature = cookie.partition(".")
    if not payload or not signature:
        return None
    expected = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature):
        return None
    try:
        body = json.loads(_unb64(payload))
        username, expires, tag = str(body["u"]), int(body["exp"]), str(body["v"])
    except (ValueError, KeyError, TypeError):
        return None
    user = known.get(username)
    if user is None or user["disabled"] or expires < time.time():
        return None
    if not hmac.compare_digest(tag, _password_tag(user)):
        return None
    return Principal(username=username, role=user["role"], via="session")


def principal_for_key(key: str, known: dict[str, dict[str, Any]]) -> Principal | None:
    """The principal owning API ``key`` among ``known`` users, else None."""
    if not key.startswith(users_mod.KEY_PREFIX):
        return None
    digest = users_mod.hash_key(key)
    for user in known.values():
        stored = user.get("api_key_hash") or ""
        if stored and hmac.compare_digest(stored, digest) and not user["disabled"]:
            return Principal(username=user["username"], role=user["role"], via="api_key")
    return None


class LoginLimiter:
    """Refuses log-ins for a user name after too many recent failures (password guessing)."""

    def __init__(self, attempts: int) -> None:
        self.attempts = attempts
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, username: str) -> bool:
        with self._lock:
            recent = [
                t
                for t in self._failures.get(username, [])
                if time.monotonic() - t < _LOCKOUT_WINDOW_S
            ]
            self._failures[username] = recent
            return len(recent) >= self.attempts

    def failed(self, username: str) -> None:
        with self._lock:
            self._failures.setdefault(username, []).append(time.monotonic())

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(username, None)
