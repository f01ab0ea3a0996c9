"""The upload policy, the OSS form POST and the ``oss://`` lookup: plain values in, ``ApiError`` out.

An account's objects sit under ``dashscope-instant/<account>/``, ``<account>`` being 32 hex digits derived from the
tenant, so the unauthenticated form POST needs no caller: the signed policy says where it may write, and the key
says whose object it is.  Limits: one file at most ``max_file_bytes``; an account holds at most
``MAX_OBJECTS`` live objects and ``max_tenant_bytes`` bytes; objects older than ``OBJECT_TTL`` (emulated) are gone.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import posixpath
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emulator.clock import Clock
from emulator.db import Database
from emulator.errors import AccessDenied, ApiError, Conflict, InvalidParameter
from emulator.files.upload import FilePart, ParsedUpload
from emulator.generation.media import OssObject, OssResolver
from emulator.generation.service import GenerationService
from emulator.settings import Settings
from emulator.tenants import Tenant
from emulator.uploads import store

BUCKET = "dashscope-file-mgr"
UPLOAD_PATH = f"/_oss/{BUCKET}"
ROOT = "dashscope-instant"
POLICY_SECONDS = 300
OBJECT_TTL = 48 * 3600
MAX_OBJECTS = 1000
MAX_KEY_BYTES = 1023
EXPIRED_BATCH = 100
ACCESS_KEY_ID = "STS.emulator-oss-access-key"
REQUIRED_FIELDS = ("OSSAccessKeyId", "Signature", "policy", "key")
SECRET_FILE = "oss-policy.key"
"""The policy-signing secret: 32 random bytes made once per data dir (mode 0600), never derived from source or seed."""
MAX_POLICY_CHARS = 8192


class OssError(ApiError):
    """An OSS PostObject error: rendered as OSS's XML ``<Error>`` body on the upload host."""


class UploadsService:
    def __init__(
        self, db: Database, clock: Clock, settings: Settings, blob_dir: Path, generation: GenerationService
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.dir = blob_dir / "oss"
        self.generation = generation
        self._secret_path = blob_dir.parent / SECRET_FILE  # the data dir (blob_dir is <data dir>/blobs)
        self._key: bytes | None = None

    @property
    def _secret(self) -> bytes:
        if self._key is None:
            self._key = load_secret(self._secret_path)
        return self._key

    def account(self, tenant_id: str) -> str:
        return hashlib.sha256(f"oss-account:{tenant_id}".encode()).hexdigest()[:32]

    # ------------------------------------------------------------------------------------------------- policy

    async def policy(self, tenant: Tenant, model: str | None, upload_host: str, rid: str) -> dict[str, Any]:
        """Reference §1.6 step 1: the fields the SDKs index, the policy bound to this account's folder."""
        if not model:
            raise InvalidParameter("Required parameter(model) missing or invalid, please check the request parameters.")
        await self.generation.resolve(tenant, model)
        now = self.clock.now()
        day = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
        upload_dir = f"{ROOT}/{self.account(tenant.id)}/{day}/{rid}"
        expiration = datetime.fromtimestamp(now + POLICY_SECONDS, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        document = {
            "expiration": expiration,
            "conditions": [
                ["content-length-range", 0, self.settings.max_file_bytes],
                ["starts-with", "$key", upload_dir],
                {"bucket": BUCKET},
                {"x-oss-object-acl": "private"},
                {"x-oss-forbid-overwrite": "true"},
            ],
        }
        policy = base64.b64encode(json.dumps(document, separators=(",", ":")).encode()).decode()
        return {
            "policy": policy,
            "signature": self._sign(policy),
            "upload_dir": upload_dir,
            "upload_host": upload_host,
            "expire_in_seconds": POLICY_SECONDS,
            "max_file_size_mb": self.settings.max_file_bytes // (1024 * 1024),
            "capacity_limit_mb": self.settings.max_tenant_bytes // (1024 * 1024),
            "oss_access_key_id": ACCESS_KEY_ID,
            "x_oss_object_acl": "private",
            "x_oss_forbid_overwrite": "true",
        }

    def _sign(self, policy: str) -> str:
        digest = hmac.new(self._secret, policy.encode("utf-8", "surrogatepass"), hashlib.sha1).digest()
        return base64.b64encode(digest).decode()

    # ------------------------------------------------------------------------------------------------- POST

    def gate(self, form_fields: dict[str, list[str]], part: FilePart) -> int:
        """Reference §1.6 step 2, before the first byte of the file is written: the fields that came before it
        (OSS requires the file last) must carry a policy this server signed, unexpired, and a key inside its
        folder.  Returns the bytes the file may hold (the policy's and the server's limit, whichever is lower)."""
        fields = {name: values[0] for name, values in form_fields.items() if values}
        missing = [name for name in REQUIRED_FIELDS if not fields.get(name)]
        if missing:
            raise OssError(f"Missing form field(s): {', '.join(missing)}.", code="InvalidArgument")
        if part.field != "file":
            raise OssError("The form must hold exactly one file field named 'file'.", code="InvalidArgument")
        policy = self._check_policy(fields)
        self._check_key(fields["key"], policy.prefix)
        return min(policy.max_bytes, self.settings.max_file_bytes)

    async def put(self, form: ParsedUpload) -> None:
        """Keeps the file the gate let in under its key (the form was parsed with ``gate``)."""
        files = [part for part in form.files if part.field == "file"]
        if len(files) != 1:
            raise OssError("The form must hold exactly one file field named 'file'.", code="InvalidArgument")
        part = files[0]
        fields = {name: values[0] for name, values in form.fields.items() if values}
        await self._store(fields["key"], part, fields.get("x-oss-content-type") or part.content_type)

    def _check_policy(self, fields: dict[str, str]) -> Policy:
        """The conditions of a policy this server signed that has not expired."""
        policy = fields["policy"]
        given = fields["Signature"].encode("utf-8", "surrogatepass")  # compare_digest refuses non-ASCII str
        if len(policy) > MAX_POLICY_CHARS or not hmac.compare_digest(self._sign(policy).encode(), given):
            raise OssError(
                "The request signature we calculated does not match the signature you provided.",
                code="SignatureDoesNotMatch",
                status=403,
            )
        document = parse_policy(policy)
        if document.expires < self.clock.now():
            raise AccessDenied("Invalid according to Policy: Policy expired.")
        return document

    @staticmethod
    def _check_key(key: str, prefix: str) -> None:
        if not key.startswith(prefix + "/") or len(key.encode()) > MAX_KEY_BYTES:
            raise AccessDenied(
                f'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "{prefix}"]'
            )
        name = key[len(prefix) + 1 :]
        if not name or "/" in name or name in (".", ".."):
            raise OssError("The object key must name one file inside the upload folder.", code="InvalidObjectName")

    async def _store(self, key: str, part: FilePart, content_type: str | None) -> None:
        if part.too_large:
            raise OssError("Your proposed upload exceeds the maximum allowed size.", code="EntityTooLarge", status=400)
        account = key.split("/")[1]
        now = self.clock.now()
        blob = hashlib.sha256(key.encode()).hexdigest()
        digest = base64.b64decode(part.md5).hex()
        expired: list[str] = []
        async with self.db.transaction() as tx:
            expired = await store.take_expired(tx, account, now - OBJECT_TTL, EXPIRED_BATCH)
            if await store.exists(tx, key):
                raise Conflict(
                    "The object you specified already exists and can not be overwritten.", code="FileAlreadyExists"
                )
            count, size = await store.usage(tx, account)
            if count >= MAX_OBJECTS or size + part.size > self.settings.max_tenant_bytes:
                raise OssError(
                    "The account's temporary storage is full: uploads expire after 48 hours.",
                    code="QuotaExceeded",
                    status=403,
                )
            self.dir.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(os.replace, part.temp_path, self.dir / blob)
            await store.insert(tx, store.OssRecord(key, account, part.size, digest, content_type, blob, now))
        self._unlink(expired)

    def _unlink(self, blobs: list[str]) -> None:
        for blob in blobs:
            (self.dir / blob).unlink(missing_ok=True)

    # ------------------------------------------------------------------------------------------------- lookup

    def resolver(self, tenant: Tenant) -> OssResolver:
        """Reference §1.6 step 3: the caller's own, unexpired object under that key, or None."""
        account = self.account(tenant.id)

        async def resolve(key: str) -> OssObject | None:
            parts = key.split("/")
            if len(parts) < 3 or parts[0] != ROOT or parts[1] != account:
                return None
            found = await store.find(self.db, key)
            if found is None or found.created_at + OBJECT_TTL <= self.clock.now():
                return None
            return OssObject(posixpath.basename(key), found.md5)

        return resolve

    async def wipe(self, tx: Any, tenant: str | None) -> tuple[int, Callable[[], None]]:
        blobs = await store.wipe(tx, None if tenant is None else self.account(tenant))
        return len(blobs), lambda: self._unlink(blobs)


@dataclass(frozen=True)
class Policy:
    expires: float
    prefix: str
    max_bytes: int


def parse_policy(policy: str) -> Policy:
    """A signed policy's document; any shape but the one ``policy()`` writes is an ``InvalidPolicyDocument`` (400)."""
    try:
        document = json.loads(base64.b64decode(policy, validate=True))
        if not isinstance(document, dict) or not isinstance(document.get("conditions"), list):
            raise ValueError("no conditions")
        expires = datetime.strptime(str(document["expiration"]), "%Y-%m-%dT%H:%M:%S.000Z").replace(tzinfo=UTC)
        prefix: str | None = None
        max_bytes: int | None = None
        for condition in document["conditions"]:
            if not isinstance(condition, list) or len(condition) != 3:
                continue
            name, first, second = condition
            if name == "starts-with" and first == "$key" and isinstance(second, str):
                prefix = second
            elif name == "content-length-range" and all(type(v) is int and v >= 0 for v in (first, second)):
                max_bytes = second
        if prefix is None or max_bytes is None:
            raise ValueError("no key prefix or size range")
    except (ValueError, KeyError, TypeError, RecursionError):
        raise OssError("Invalid Policy.", code="InvalidPolicyDocument") from None
    return Policy(expires.timestamp(), prefix, max_bytes)


def load_secret(path: Path) -> bytes:
    """The data dir's signing secret, made on first use: written aside then linked in, so of two workers starting
    together exactly one secret wins and both read it."""
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32).hex().encode())
        try:
            os.link(temp, path)
        except FileExistsError:
            pass
    finally:
        temp.unlink(missing_ok=True)
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    key = bytes.fromhex(path.read_text().strip())
    if len(key) < 16:
        raise ValueError(f"{path}: the upload-policy secret is damaged; remove the file to make a new one")
    return key
