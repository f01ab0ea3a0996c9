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
from collections.abc import Callable
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
        seed = settings.seed if settings.seed is not None else 0
        self._secret = hashlib.sha256(f"dashscope-emulator-oss:{seed}".encode()).digest()

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

    async def put(self, form: ParsedUpload) -> None:
        """Reference §1.6 step 2: check the form against its policy, then keep the file under its key."""
        fields = {name: values[0] for name, values in form.fields.items() if values}
        missing = [name for name in REQUIRED_FIELDS if not fields.get(name)]
        if missing:
            raise OssError(f"Missing form field(s): {', '.join(missing)}.", code="InvalidArgument")
        files = [part for part in form.files if part.field == "file"]
        if len(files) != 1:
            raise OssError("The form must hold exactly one file field named 'file'.", code="InvalidArgument")
        key, part = fields["key"], files[0]
        prefix = self._check_policy(fields)
        self._check_key(key, prefix)
        if part.too_large:
            raise OssError("Your proposed upload exceeds the maximum allowed size.", code="EntityTooLarge", status=400)
        await self._store(key, part, fields.get("x-oss-content-type") or part.content_type)

    def _check_policy(self, fields: dict[str, str]) -> str:
        """The ``starts-with $key`` prefix of a policy this server signed that has not expired."""
        policy = fields["policy"]
        given = fields["Signature"].encode("utf-8", "surrogatepass")  # compare_digest refuses non-ASCII str
        if not hmac.compare_digest(self._sign(policy).encode(), given):
            raise OssError(
                "The request signature we calculated does not match the signature you provided.",
                code="SignatureDoesNotMatch",
                status=403,
            )
        try:
            document = json.loads(base64.b64decode(policy, validate=True))
            expires = datetime.strptime(document["expiration"], "%Y-%m-%dT%H:%M:%S.000Z").replace(tzinfo=UTC)
            prefix = next(
                c[2] for c in document["conditions"] if isinstance(c, list) and c[:2] == ["starts-with", "$key"]
            )
        except (ValueError, KeyError, TypeError, StopIteration):
            raise OssError("Invalid Policy.", code="InvalidPolicyDocument") from None
        if expires.timestamp() < self.clock.now():
            raise AccessDenied("Invalid according to Policy: Policy expired.")
        return str(prefix)

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
