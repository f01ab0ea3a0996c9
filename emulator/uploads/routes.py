"""The route table of ``emulator.uploads``: one declaration per endpoint (``emulator.openapi.Operation``).

Handlers and models are named (``"module:name"``), not imported: a server starts without them, and each is
imported with its first request, or when the OpenAPI document is built (``emulator.lazy``)."""

from __future__ import annotations

from emulator import lazy
from emulator.openapi import Operation, Param, path_param

HANDLERS = "emulator.uploads.handlers"
SCHEMAS = "emulator.uploads.schemas"


operations = [
    Operation(
        "GET",
        "/api/v1/uploads",
        "Upload policy for a temporary media file (action=getPolicy)",
        "uploads",
        endpoint=lazy.handler(f"{HANDLERS}:get_policy"),
        response=f"{SCHEMAS}:UploadPolicyResponse",
        envelope="raw",
        params=(
            Param("action", required=True, description="getPolicy"),
            Param("model", description="The model the file is for."),
        ),
        description="Answers under `data`; `upload_host` is this server's `/_oss/dashscope-file-mgr`. POST the "
        "OSS form there (fields `OSSAccessKeyId`, `Signature`, `policy`, `key`, `file`, ...), then send "
        "`oss://<key>` with `X-DashScope-OssResourceResolve: enable`. Objects live 48 h of emulated time.",
    ),
    Operation(
        "POST",
        "/_oss/{bucket}",
        "OSS PostObject form upload (the upload_host of a policy)",
        "uploads",
        endpoint=lazy.handler(f"{HANDLERS}:post_object"),
        envelope="raw",
        auth=False,
        oss=True,
        multipart={
            "type": "object",
            "properties": {"key": {"type": "string"}, "file": {"type": "string", "format": "binary"}},
        },
        params=(path_param("bucket"),),
        description="multipart/form-data; no Authorization (the signed policy is the credential). 200 with an "
        "empty body when `success_action_status` is 200, else 204; errors are OSS XML `<Error>` bodies "
        "(409 FileAlreadyExists, 403 AccessDenied for an expired policy or a key outside `upload_dir`).",
    ),
]
