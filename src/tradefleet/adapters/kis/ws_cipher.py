"""AES-256-CBC of KIS's encrypted frames (``1|…``): the UTF-8 bytes of the subscribe ack's
``key`` (32 chars) and ``iv`` (16 chars), a base64 payload, PKCS7 padding
(reference/kis-api.md §5). ``cryptography`` is already a dependency (token encryption)."""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tradefleet.adapters.kis.ws_frames import FrameError


class NoticeCipher:
    def __init__(self, key: str, iv: str) -> None:
        kb, ivb = key.encode(), iv.encode()
        if len(kb) != 32:
            raise FrameError(f"body.output.key: {len(kb)} bytes, expected 32 (AES-256)")
        if len(ivb) != 16:
            raise FrameError(f"body.output.iv: {len(ivb)} bytes, expected 16")
        self._cipher = Cipher(algorithms.AES(kb), modes.CBC(ivb))

    def __repr__(self) -> str:
        return "NoticeCipher(key=***, iv=***)"

    def decrypt(self, payload: str) -> str:
        try:
            raw = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise FrameError("payload: not base64") from None
        if not raw or len(raw) % 16:
            raise FrameError(f"payload: {len(raw)} bytes, not a whole number of AES blocks")
        dec = self._cipher.decryptor()
        padded = dec.update(raw) + dec.finalize()
        unpad = padding.PKCS7(128).unpadder()
        try:
            plain = unpad.update(padded) + unpad.finalize()
            return plain.decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise FrameError("payload: does not decrypt with the subscribe ack's key/iv "
                             "(bad padding or not UTF-8)") from None

    def encrypt(self, text: str) -> str:
        """For the exchange simulator, which must speak the same dialect."""
        pad = padding.PKCS7(128).padder()
        padded = pad.update(text.encode("utf-8")) + pad.finalize()
        enc = self._cipher.encryptor()
        return base64.b64encode(enc.update(padded) + enc.finalize()).decode("ascii")
