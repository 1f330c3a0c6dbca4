"""The dashboard's access configuration, parsed and validated so that a mistake fails closed.

Access is configured in Streamlit's secrets files (``secrets.files``, by default
``~/.streamlit/secrets.toml`` and ``.streamlit/secrets.toml``): an ``[auth]``
section turns on OIDC login, ``[access]`` says who sees which tenants. A file
that exists but does not parse, an ``[auth]`` section that lacks a required
key, or an ``[access]`` section with an unknown key or a malformed value raises
``AccessConfigError`` naming the file and the line, so the dashboard shows that
message instead of falling back to local mode (where one user sees every
tenant). Files are re-read whenever their size or modification time changes,
so an edit made while the server runs is validated the same way. This module
is pure (no Streamlit import): the page gate and the download guard share it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import threading
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

from invlog.lake import TENANT_RE

AUTH_REQUIRED = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")
# Streamlit's own optional [auth] keys; anything else is most likely a typo of a required one.
AUTH_OPTIONAL = ("client_kwargs", "expose_tokens")
ACCESS_KEYS = ("local_user", "users", "admins", "require_verified_email", "session_hours", "idle_minutes")


class AccessConfigError(ValueError):
    """The access configuration is unusable; the message names the file and line."""


@dataclasses.dataclass(frozen=True)
class AccessConfig:
    """Who may see what. E-mails are stored normalised (see ``normalise_email``)."""

    login: bool = False
    local_user: tuple[str, ...] = ("*",)
    users: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    admins: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    require_verified_email: bool = True
    session_hours: float = 8.0
    idle_minutes: float = 60.0

    def grant(self, email: str | None) -> tuple[str, ...]:
        """The tenant grants of a user: the local user's without login, else the e-mail's (none if unknown)."""
        if not self.login:
            return self.local_user
        return self.users.get(normalise_email(email or ""), ()) if email else ()

    def admin_grant(self, email: str | None) -> tuple[str, ...]:
        if not self.login:
            return self.local_user  # the one local user owns the machine and its lake
        return self.admins.get(normalise_email(email or ""), ()) if email else ()


def normalise_email(email: str) -> str:
    """Compare e-mails case-insensitively: providers differ in how they capitalise them."""
    return email.strip().casefold()


def _line_of(text: str, section: str, key: str | None) -> int | None:
    """The 1-based line where ``key`` (or the ``[section]`` header) is written, if it can be found."""
    current = ""
    header = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*(#.*)?$")
    for n, line in enumerate(text.splitlines(), 1):
        m = header.match(line)
        if m:
            current = m.group(1).replace('"', "").replace(" ", "")
            if key is None and current == section:
                return n
            continue
        if key is not None and current == section:
            stripped = line.strip()
            for form in (key, f'"{key}"', f"'{key}'"):
                if stripped.startswith(form) and stripped[len(form):].lstrip().startswith("="):
                    return n
    return None


def _toml_error_line(text: str, exc: tomllib.TOMLDecodeError) -> str:
    """'line N' of a parse error; an error 'at end of document' (an unclosed list or string) is on the last line."""
    m = re.search(r"at line (\d+)", str(exc))
    if m:
        return f"line {m.group(1)}"
    lines = [n for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    return f"line {lines[-1] if lines else 1} (end of file)"


class _Files:
    """Parsed secrets files, re-parsed when a file's (mtime, size) changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[int, int], str, dict[str, Any]]] = {}

    def read(self, paths: Iterable[str]) -> list[tuple[str, str, dict[str, Any]]]:
        out = []
        for path in paths:
            if not str(path).endswith(".toml"):
                continue  # a secrets directory (Kubernetes style) has no lines to name; Streamlit parses it
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise AccessConfigError(f"{path}: cannot be read ({exc.strerror})") from exc
            stamp = (st.st_mtime_ns, st.st_size)
            with self._lock:
                hit = self._cache.get(path)
            if hit is None or hit[0] != stamp:
                try:
                    with open(path, encoding="utf-8") as f:
                        text = f.read()
                except (OSError, UnicodeDecodeError) as exc:
                    raise AccessConfigError(f"{path}: cannot be read ({exc}); refusing to serve tenant data") from exc
                try:
                    parsed = tomllib.loads(text)
                except tomllib.TOMLDecodeError as exc:
                    raise AccessConfigError(f"{path}, {_toml_error_line(text, exc)}: not valid TOML: {exc}") from exc
                hit = (stamp, text, parsed)
                with self._lock:
                    self._cache[path] = hit
            out.append((path, hit[1], hit[2]))
        return out


FILES = _Files()


def _fail(files: list[tuple[str, str, dict[str, Any]]], section: str, key: str | None, message: str) -> None:
    """Raise naming the last file (later files override earlier ones) that writes ``section``/``key``."""
    for path, text, _ in reversed(files):
        line = _line_of(text, section, key)
        if line is not None:
            raise AccessConfigError(f"{path}, line {line}: {message}")
    where = f"[{section}]" + (f" {key}" if key else "")
    raise AccessConfigError(f"secrets {where}: {message}")


def _tenant_list(files: list[Any], section: str, key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        _fail(files, section, key, f"{key} must be a list of tenant ids (or \"*\" for all), e.g. [\"acme\"]")
    for t in value:  # type: ignore[union-attr]
        if t != "*" and TENANT_RE.fullmatch(t) is None:
            _fail(files, section, key, f"{t!r} is not a valid tenant id")
    return tuple(value)  # type: ignore[arg-type]


def _email_map(files: list[Any], name: str, value: object) -> dict[str, tuple[str, ...]]:
    section = f"access.{name}"
    if not isinstance(value, dict):
        _fail(files, "access", name, f"[{section}] must be a table of e-mail = [tenants]")
    out: dict[str, tuple[str, ...]] = {}
    for email, tenants in value.items():  # type: ignore[union-attr]
        if "@" not in email:
            _fail(files, section, email, f"{email!r} is not an e-mail address")
        norm = normalise_email(email)
        if norm in out:
            _fail(files, section, email, f"{email!r} is listed twice (e-mails are compared case-insensitively)")
        out[norm] = _tenant_list(files, section, email, tenants)
    return out


def parse(secrets: Mapping[str, Any], files: list[tuple[str, str, dict[str, Any]]] | None = None) -> AccessConfig:
    """Validate the effective secrets (as Streamlit merged them) into an ``AccessConfig``."""
    files = files or []
    auth = secrets.get("auth")
    login = auth is not None
    if login:
        if not isinstance(auth, Mapping):
            _fail(files, "auth", None, "[auth] must be a table")
        for key in AUTH_REQUIRED:
            value = auth.get(key)  # type: ignore[union-attr]
            if not isinstance(value, str) or not value.strip():
                _fail(files, "auth", None if key not in auth else key,  # type: ignore[operator]
                      f"[auth] needs {key} (a non-empty string): login cannot work without it, and the "
                      "dashboard does not fall back to showing every tenant")
        for key, value in auth.items():  # type: ignore[union-attr]
            if key not in AUTH_REQUIRED and key not in AUTH_OPTIONAL and not isinstance(value, Mapping):
                _fail(files, "auth", key, f"unknown key {key!r} in [auth]")
    access = secrets.get("access", {})
    if not isinstance(access, Mapping):
        _fail(files, "access", None, "[access] must be a table")
    for key in access:
        if key not in ACCESS_KEYS:
            _fail(files, "access", key, f"unknown key {key!r} in [access] (known: {', '.join(ACCESS_KEYS)})")
    kw: dict[str, Any] = {"login": login}
    if "local_user" in access:
        kw["local_user"] = _tenant_list(files, "access", "local_user", access["local_user"])
    for name in ("users", "admins"):
        if name in access:
            kw[name] = _email_map(files, name, access[name])
    if "require_verified_email" in access:
        if not isinstance(access["require_verified_email"], bool):
            _fail(files, "access", "require_verified_email", "require_verified_email must be true or false")
        kw["require_verified_email"] = access["require_verified_email"]
    for key in ("session_hours", "idle_minutes"):
        if key in access:
            value = access[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                _fail(files, "access", key, f"{key} must be a positive number")
            kw[key] = float(value)
    return AccessConfig(**kw)


def load(paths: Iterable[str]) -> AccessConfig:
    """Parse and validate the secrets files (merged as Streamlit merges them); raises ``AccessConfigError``."""
    files = FILES.read(paths)
    merged: dict[str, Any] = {}
    for _, _, parsed in files:
        merged.update(parsed)  # shallowly, later files winning
    return parse(merged, files)
