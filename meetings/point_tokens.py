"""Bridge-point tokens: long random secrets that room PCs log in with.

Only a SHA-256 hash is kept (in rooms.toml): the token has 256 bits of entropy, so a
memory-hard KDF would add cost without adding safety.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "hnp_"


def new_point_token() -> str:
    """A fresh token, shown once to the operator and never stored."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_point_token(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.strip().encode("utf-8")).hexdigest()


def token_matches(token: str, token_hash: str | None) -> bool:
    if not token_hash:
        return False
    return hmac.compare_digest(hash_point_token(token), token_hash)
