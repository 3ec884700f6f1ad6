"""Password hashing with scrypt (memory-hard KDF from the standard library).

Stored form: ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`` so parameters can be raised later
without breaking existing hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

N, R, P, DKLEN = 2**14, 8, 1, 32


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=N, r=R, p=P, dklen=DKLEN)
    b64 = base64.b64encode
    return f"scrypt${N}${R}${P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time comparison; a malformed stored hash never matches."""
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=int(n), r=int(r), p=int(p),
                                dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A real hash of a random secret: checked for unknown users so timing does not reveal them."""
    return hash_password(base64.b64encode(os.urandom(24)).decode())
