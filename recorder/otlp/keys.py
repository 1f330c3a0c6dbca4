"""API keys to tenants, from a TOML file: ``[keys]`` then ``"<key>" = "<tenant>"`` lines.

A key may be written as ``"sha256:<64 hex digits>"`` (the SHA-256 of the key), so the
file need hold no secret; ``python -m recorder.otlp hash-key`` prints that form. Keys
are compared by their digests in constant time; an unknown or missing key is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import tomllib

from invlog.lake import validate_tenant


class Keys:
    def __init__(self, digests: dict[bytes, str]):
        self._digests = digests

    @classmethod
    def load(cls, path: str) -> Keys:
        try:
            with open(path, "rb") as f:
                doc = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"{path}: {exc}") from None
        table = doc.get("keys")
        if not isinstance(table, dict) or not table:
            raise ValueError(f"{path}: expected a [keys] table mapping API keys to tenants")
        digests: dict[bytes, str] = {}
        for n, (key, tenant) in enumerate(table.items(), 1):
            if not isinstance(tenant, str):
                raise ValueError(f"{path}: key #{n}: the tenant must be a string")
            try:
                validate_tenant(tenant)
            except ValueError as exc:
                raise ValueError(f"{path}: key #{n}: {exc}") from None
            if key.startswith("sha256:"):
                try:
                    digest = bytes.fromhex(key[7:])
                except ValueError:
                    digest = b""
                if len(digest) != 32:
                    raise ValueError(f"{path}: key #{n}: expected sha256: and 64 hex digits") from None
            elif len(key) < 16:
                raise ValueError(f"{path}: key #{n}: too short (16 characters at least)")
            else:
                digest = hashlib.sha256(key.encode()).digest()
            digests[digest] = tenant
        return cls(digests)

    def tenant(self, authorization: str | None) -> str | None:
        """The tenant of an ``Authorization: Bearer <key>`` header, else None."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        digest = hashlib.sha256(authorization[7:].strip().encode()).digest()
        found = None
        for d, tenant in self._digests.items():  # every digest compared: the time says nothing about the key
            if hmac.compare_digest(d, digest):
                found = tenant
        return found


def hash_key(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()
