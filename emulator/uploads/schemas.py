"""Wire shapes of the upload policy (reference §1.6)."""

from __future__ import annotations

from emulator.wire import WireModel


class UploadPolicy(WireModel):
    policy: str
    signature: str
    upload_dir: str
    upload_host: str
    expire_in_seconds: int
    max_file_size_mb: int
    capacity_limit_mb: int
    oss_access_key_id: str
    x_oss_object_acl: str
    x_oss_forbid_overwrite: str


class UploadPolicyResponse(WireModel):
    request_id: str
    data: UploadPolicy
