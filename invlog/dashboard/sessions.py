"""Server-side dashboard sessions: the bound on a login that Streamlit's 30-day cookie lacks.

Streamlit keeps a logged-in user's identity in a signed cookie valid for 30
days, with no setting to shorten it and no way to revoke it on the server. So
the dashboard keeps its own session per login, keyed from the identity in that
cookie (issuer, subject, e-mail and the ID token's ``iat``, which changes at
every login). A session starts only from a fresh login (``iat`` within
``LOGIN_WINDOW`` seconds), ends at logout, after ``idle`` seconds without a
page run and ``max_age`` seconds after login; an ended key never starts again.
So a cookie copied before logout, or kept past expiry, or presented to a
restarted server, gets "log in again" instead of data. The store is in memory,
one per server process (the page scripts and the download guard share it), and
also records which session generated which download, so that the media
endpoint serves a file only to its owner while that session lives.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

LOGIN_WINDOW = 300.0  # seconds: a login's ID token is at most this old when its first page runs
DOWNLOAD_TTL = 300.0  # seconds a generated download stays fetchable by its owner


def session_key(claims: Mapping[str, Any]) -> str | None:
    """The key of one login, or None when the identity lacks what a key needs (then: refuse)."""
    iat, sub = claims.get("iat"), claims.get("sub")
    if iat is None or not sub:
        return None
    raw = "\x1f".join(str(claims.get(k, "")) for k in ("iss", "sub", "email", "iat"))
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclasses.dataclass
class _Session:
    email: str
    started: float
    last_seen: float
    expires: float
    idle: float


class SessionStore:
    """Thread-safe: page scripts run in threads, the download guard on the event loop."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._live: dict[str, _Session] = {}
        self._ended: dict[str, float] = {}  # key -> when it may be forgotten (its iat is then too old anyway)
        self._files: dict[str, dict[str, float]] = {}  # media file id -> {session key: fetchable until}

    def check(self, claims: Mapping[str, Any], *, max_age: float, idle: float) -> tuple[bool, str]:
        """Admit one page run of this identity, starting its session on a fresh login. (ok, reason)."""
        key = session_key(claims)
        if key is None:
            return False, "the identity provider's token has no subject or issue time"
        now = self._clock()
        with self._lock:
            self._forget(now)
            if key in self._ended:
                return False, "this login has ended (logged out or expired)"
            s = self._live.get(key)
            if s is None:
                try:
                    iat = float(claims["iat"])
                except (TypeError, ValueError):
                    return False, "the identity provider's token has an unreadable issue time"
                if not (now - LOGIN_WINDOW <= iat <= now + 60):
                    return False, "this server does not know this login (it may have restarted)"
                s = _Session(str(claims.get("email", "")), now, now, min(iat + max_age, now + max_age), idle)
                self._live[key] = s
            if now > s.expires or now - s.last_seen > s.idle:
                self._end(key, s)
                return False, "this login has expired"
            s.last_seen = now
            s.idle = idle
            return True, ""

    def active(self, key: str | None) -> bool:
        """Whether ``key``'s session is live now (no side effects: used by the download guard)."""
        if key is None:
            return False
        now = self._clock()
        with self._lock:
            s = self._live.get(key)
            return s is not None and now <= s.expires and now - s.last_seen <= s.idle

    def end(self, key: str | None) -> None:
        if key is None:
            return
        with self._lock:
            s = self._live.get(key)
            if s is not None:
                self._end(key, s)
            else:
                self._ended[key] = self._clock() + LOGIN_WINDOW + 60

    def register_file(self, file_id: str, key: str | None) -> None:
        if key is None:
            return
        with self._lock:
            self._files.setdefault(file_id, {})[key] = self._clock() + DOWNLOAD_TTL

    def may_fetch(self, file_id: str, key: str | None) -> bool:
        """A media file is served only to a live session that generated it, within ``DOWNLOAD_TTL``."""
        if key is None or not self.active(key):
            return False
        with self._lock:
            until = self._files.get(file_id, {}).get(key)
            return until is not None and self._clock() <= until

    def _end(self, key: str, s: _Session) -> None:
        del self._live[key]
        self._ended[key] = max(s.expires, self._clock()) + LOGIN_WINDOW
        for owners in self._files.values():
            owners.pop(key, None)

    def _forget(self, now: float) -> None:
        for key in [k for k, until in self._ended.items() if until < now]:
            del self._ended[key]
        for fid in [f for f, owners in self._files.items() if all(u < now for u in owners.values())]:
            del self._files[fid]


STORE = SessionStore()
