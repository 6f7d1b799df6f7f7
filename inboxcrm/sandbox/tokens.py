"""Signed id_tokens (RS256) and the JWKS that verifies them, like accounts.google.com."""

import base64
import functools
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

KEY_ID = "sandbox-key-1"


@functools.cache
def _key() -> rsa.RSAPrivateKey:
    # One key per process: generating it costs ~50 ms, so do it once and only if needed.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def sign_jwt(claims: dict[str, Any]) -> str:
    header = {"alg": "RS256", "kid": KEY_ID, "typ": "JWT"}
    signing_input = ".".join(
        _b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = _key().sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + _b64(signature)


def jwks() -> dict[str, Any]:
    numbers = _key().public_key().public_numbers()
    key = {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": KEY_ID}
    return {"keys": [{**key, "n": _uint(numbers.n), "e": _uint(numbers.e)}]}


def pem_certs() -> dict[str, str]:
    """Google's /oauth2/v1/certs shape: key id -> self-signed X.509 certificate (PEM)."""
    key = _key()
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "sandbox.googleusercontent")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return {KEY_ID: cert.public_bytes(serialization.Encoding.PEM).decode("ascii")}


def at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return _b64(digest[: len(digest) // 2])


def s256(verifier: str) -> str:
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())
