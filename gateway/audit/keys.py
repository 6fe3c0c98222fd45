"""The audit store's two keys.

- ``audit_key`` (HMAC-SHA256) turns an ID number into the data-subject hash kept in the log;
  without it nobody can tell whom a record is about, with it an auditor can ask about one
  person (``gateway audit subject``).
- ``audit_signing_key``: an Ed25519 private key (PEM file) that signs checkpoints; verify
  needs only its public half.

In dev/demo mode (and tests) an empty setting means a key made once under var/, with the
same first-writer-wins file creation as the stats key (gateway/secure.py); production
refuses to start without both (``secure.insecure_settings``).
"""
from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from common.errors import SettingsError
from gateway.settings import PROJECT, Settings

AUDIT_KEY_FILE = PROJECT / "var" / "audit.key"
SIGNING_KEY_FILE = PROJECT / "var" / "audit_signing.pem"
KEY_BYTES = 32


def create_once(path: Path, make: Callable[[], bytes]) -> bytes:
    """Write ``make()`` to ``path`` unless it exists; the first of several processes wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    data = make()
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return path.read_bytes()
    finally:
        tmp.unlink(missing_ok=True)
    return data


def _read_or_create(path: Path, make: Callable[[], bytes], setting: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return create_once(path, make)
    except OSError as e:
        raise SettingsError(f"{setting} file {path}: {e}", key=setting, path=str(path)) from None


def audit_key(settings: Settings, path: Path = AUDIT_KEY_FILE) -> bytes:
    if settings.audit_key:
        return settings.audit_key.encode()
    key = _read_or_create(path, lambda: secrets.token_bytes(KEY_BYTES), "audit_key")
    if len(key) != KEY_BYTES:
        raise SettingsError(f"audit key file {path} is not {KEY_BYTES} bytes; set audit_key", key="audit_key",
                            path=str(path))
    return key


def _new_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class Signer:
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    def sign(self, message: bytes) -> str:
        return self.private.sign(message).hex()


def verifies(public: Ed25519PublicKey, message: bytes, signature_hex: str) -> bool:
    try:
        public.verify(bytes.fromhex(signature_hex), message)
        return True
    except (InvalidSignature, ValueError):
        return False


def signer(settings: Settings, default: Path = SIGNING_KEY_FILE) -> Signer:
    """The checkpoint key: the PEM file of ``audit_signing_key``, else ``default`` (made once)."""
    if settings.audit_signing_key:
        path = Path(settings.audit_signing_key)
        try:
            pem = path.read_bytes()
        except OSError as e:
            raise SettingsError(f"audit_signing_key {path}: {e.strerror}", key="audit_signing_key",
                                path=str(path)) from None
    else:
        path = default
        pem = _read_or_create(path, _new_pem, "audit_signing_key")
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as e:
        raise SettingsError(f"audit_signing_key {path}: not an unencrypted PEM private key ({e})",
                            key="audit_signing_key", path=str(path)) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SettingsError(f"audit_signing_key {path}: not an Ed25519 key", key="audit_signing_key",
                            path=str(path))
    return Signer(key)


def load_public(path: Path) -> Ed25519PublicKey:
    """A public key PEM, or the public half of a private key PEM."""
    pem = path.read_bytes()
    try:
        pub = serialization.load_pem_public_key(pem)
    except ValueError:
        priv = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(priv, Ed25519PrivateKey):
            raise SettingsError(f"{path}: not an Ed25519 key", path=str(path)) from None
        return priv.public_key()
    if not isinstance(pub, Ed25519PublicKey):
        raise SettingsError(f"{path}: not an Ed25519 key", path=str(path))
    return pub
