"""OAuth tokens at rest: Fernet (AES-128-CBC + HMAC-SHA256) with the key from the environment."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class TokenUnreadable(Exception):
    """Stored tokens cannot be decrypted (the key changed): the mailbox must reconnect."""


class TokenBox:
    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def seal(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def open(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode()
        except InvalidToken:
            raise TokenUnreadable("stored tokens cannot be decrypted with this key") from None
