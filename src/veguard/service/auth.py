"""API keys, roles and reviewer sessions: who may score (client), review (reviewer), decide
escalations (senior) and administer (admin).

A key is a high-entropy random token shown once; only its sha256 is stored (in the database's
`api_keys` table, or given in config / `VEGUARD_API_KEYS`). Database keys may carry an expiry
and can be revoked (`veguard queue keys revoke`). Checking a presented token hashes it and
compares hashes with `hmac.compare_digest`. Tokens never reach a log line: errors name the
key's *name*, never the token.

The reviewer page never puts the key in a cookie: logging in creates a server-side session (a
random id in the cookie, its sha256 in `review_sessions`, an expiry, revoked on logout), and
each request re-checks that the key behind the session is still valid.

`VEGUARD_API_KEYS` (and `Settings.api_keys`) is a comma-separated list of
`role:name:token` or `role:name:sha256:<hex digest>` entries.

What it leaves out: key revocation over HTTP (the CLI does it), and rate limiting
(ratelimit.py).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from fastapi import HTTPException, Request

from veguard.service.store import ROLES, QueueStore, SessionRecord

COOKIE = "veguard_session"
TOKEN_PREFIX = "vg_"

# Which roles each capability admits. Admin can do everything; a senior reviewer can do what a
# reviewer can, plus decide escalated items.
CAPABILITIES: dict[str, frozenset[str]] = {
    "score": frozenset({"client", "admin"}),
    "review": frozenset({"reviewer", "senior", "admin"}),
    "senior": frozenset({"senior", "admin"}),
    "admin": frozenset({"admin"}),
}


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    session: str | None = None  # the session's hash, for reviewer-page requests

    @property
    def senior(self) -> bool:
        return self.role in CAPABILITIES["senior"]


def new_token() -> str:
    """A fresh key: 256 random bits, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    return role


def parse_key_specs(spec: str, origin: str) -> list[tuple[str, str, str]]:
    """(name, role, sha256) for each `role:name:token` / `role:name:sha256:<hex>` entry."""
    out = []
    for i, entry in enumerate(e.strip() for e in spec.split(",")):
        if not entry:
            continue
        parts = entry.split(":", 2)
        if len(parts) != 3 or not parts[1] or not parts[2]:
            # The entry itself may hold a token: name its position, not its content.
            raise ValueError(f"{origin}: entry {i + 1} is not 'role:name:token'")
        role, name, secret = parts
        try:
            check_role(role)
        except ValueError as e:
            raise ValueError(f"{origin}: entry {i + 1}: {e}") from None
        if secret.startswith("sha256:"):
            digest = secret[len("sha256:"):].lower()
            if len(digest) != 64 or any(ch not in "0123456789abcdef" for ch in digest):
                raise ValueError(f"{origin}: entry {i + 1}: sha256 digest must be 64 hex digits")
        else:
            digest = hash_token(secret)
        out.append((name, role, digest))
    return out


class KeyRing:
    """Resolves a presented token to a Principal from static keys and the store's keys."""

    def __init__(self, store: QueueStore, static: list[tuple[str, str, str]] | None = None):
        self.store = store
        self.static = list(static or [])

    @classmethod
    def from_config(cls, store: QueueStore, config_keys: list[str]) -> KeyRing:
        static = parse_key_specs(",".join(config_keys), "settings.api_keys")
        static += parse_key_specs(os.environ.get("VEGUARD_API_KEYS", ""), "VEGUARD_API_KEYS")
        return cls(store, static)

    def resolve(self, token: str | None) -> Principal | None:
        if not token:
            return None
        return self.resolve_hash(hash_token(token))

    def resolve_hash(self, digest: str) -> Principal | None:
        found = None
        # Compare against every static key so the time taken does not say which one matched.
        for name, role, known in self.static:
            if hmac.compare_digest(known, digest):
                found = Principal(name, role)
        if found:
            return found
        rec = self.store.find_key(digest)
        if rec is not None and hmac.compare_digest(rec.key_hash, digest):
            return Principal(rec.name, rec.role)
        return None


def create_key(store: QueueStore, role: str, name: str, actor: str,
               expires_at: float | None = None) -> str:
    """Store a new key's hash and return the token (the only time it exists in clear)."""
    check_role(role)
    token = new_token()
    rec = store.add_key(name, role, hash_token(token), expires_at)
    store.audit(actor, "key_create", None, {"name": rec.name, "role": role,
                                            "expires_at": expires_at})
    return token


def start_session(store: QueueStore, principal: Principal, token: str, hours: float) -> str:
    """A new reviewer session for a checked key; returns the session id (cookie value)."""
    session_id = secrets.token_urlsafe(32)
    now = store.clock()
    store.add_session(SessionRecord(hash_token(session_id), principal.name, principal.role,
                                    hash_token(token), now, now + hours * 3600))
    return session_id


def session_principal(request: Request) -> Principal | None:
    session_id = request.cookies.get(COOKIE)
    if not session_id:
        return None
    digest = hash_token(session_id)
    rec = request.app.state.store.find_session(digest)
    if rec is None:
        return None
    # A session lives no longer than its key: revoked or expired keys end it too.
    key = request.app.state.keyring.resolve_hash(rec.key_hash)
    if key is None or key.name != rec.key_name:
        return None
    return Principal(key.name, key.role, digest)


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key") or None


def authorize(request: Request, capability: str, *, cookie: bool = False) -> Principal:
    """The caller's Principal if its role has `capability`; else 401 (no/bad key) or 403."""
    keyring: KeyRing = request.app.state.keyring
    token = bearer_token(request)
    if token is None and cookie:
        principal = session_principal(request)
        if principal is None:
            reason = "not logged in (or the session has ended)"
            raise HTTPException(401, reason, headers={"WWW-Authenticate": "Bearer"})
    else:
        principal = keyring.resolve(token)
    if principal is None:
        reason = "missing API key" if not token else "invalid API key"
        raise HTTPException(401, reason, headers={"WWW-Authenticate": "Bearer"})
    if principal.role not in CAPABILITIES[capability]:
        raise HTTPException(403, f"role {principal.role!r} may not {capability}")
    return principal


def require(capability: str):
    """A FastAPI dependency admitting roles with `capability` (header auth: API routes)."""

    def dependency(request: Request) -> Principal:
        return authorize(request, capability)

    return dependency
