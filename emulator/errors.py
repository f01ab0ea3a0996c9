"""The one error model of the emulator.

Every error the API can answer is a subclass of ``ApiError``; each sets its HTTP status, its stable
DashScope code and a default message at class level.  Services raise them; one handler renders the
service's envelope ``{"request_id", "code", "message"}`` (``render_error``).

    ApiError
     ├── InvalidParameter            400 InvalidParameter
     │    ├── FileNotFound           400 InvalidParameter  "File not found."   (files answer 400, not 404)
     │    ├── ModelNotExist          400 InvalidParameter  "Model not exist."
     │    ├── MalformedBody          400 InvalidParameter  (bad JSON, wrong types)
     │    ├── EmptyModel             400 BadRequest.EmptyModel   (generation without a model)
     │    └── EmptyInput             400 BadRequest.EmptyInput   (generation without messages or prompt)
     ├── UnsupportedOperation        400 UnsupportedOperation  (illegal state transition)
     ├── TooMany                     400 BadRequest.TooMany    (a count over a limit: fault rules)
     ├── TooLarge                    413 BadRequest.TooLarge   (request body over a limit)
     ├── HeadersTooLarge             431 BadRequest.HeadersTooLarge  (request headers over --max-header-bytes)
     ├── InsufficientStorage         507 InsufficientStorage   (the emulator's own disk is full)
     ├── InvalidApiKey               401 InvalidApiKey
     │    └── AdminTokenRequired     401 InvalidApiKey  (/_emulator/* under --admin-token)
     ├── AccessDenied                403 AccessDenied
     ├── NotFound                    404 NotFound
     │    └── ModelNotFound          404 ModelNotFound  (OpenAI-compatible: ``model_not_found``)
     ├── MethodNotAllowed            405 MethodNotAllowed
     ├── Conflict                    409 Conflict
     ├── UnsupportedMediaType        415 UnsupportedMediaType
     ├── Throttling                  429 Throttling
     ├── InternalError               500 InternalError  (never on purpose: unexpected exceptions only)
     └── ServiceUnavailable          503 ServiceUnavailable  (only injected through /_emulator/faults)

The OpenAI-compatible routes render the same errors in OpenAI's shape (``render_openai_error``).
"""

from __future__ import annotations

import errno
import sqlite3
from typing import Any, ClassVar, Literal, NewType, get_args

ErrorCode = Literal[
    "InvalidParameter",
    "InvalidFileFormat",
    "UnsupportedOperation",
    "BadRequest.TooLarge",
    "BadRequest.TooMany",
    "BadRequest.HeadersTooLarge",
    "InsufficientStorage",
    "BadRequest.EmptyModel",
    "BadRequest.EmptyInput",
    "ModelNotFound",
    "InvalidApiKey",
    "AccessDenied",
    "NotFound",
    "MethodNotAllowed",
    "Conflict",
    "UnsupportedMediaType",
    "Throttling",
    "Throttling.RateQuota",
    "InternalError",
    "BadGateway",
    "ServiceUnavailable",
    "GatewayTimeout",
    "InvalidParameter.NotSupportEnableThinking",
    "NoSuchBucket",
    "InvalidArgument",
    "EntityTooLarge",
    "SignatureDoesNotMatch",
    "InvalidPolicyDocument",
    "InvalidObjectName",
    "FileAlreadyExists",
    "QuotaExceeded",
]
"""Every code the emulator answers on its own: closed, so a misspelt code fails ``mypy --strict``.

README.md's "Error codes" table lists them (tests/unit/test_errors.py keeps the two in sync)."""

ScriptedCode = NewType("ScriptedCode", str)
"""A code a test chose through ``/_emulator/faults`` or ``/_emulator/responses``: free text, marked as such."""

Code = ErrorCode | ScriptedCode
"""What ``ApiError.code`` holds: one of the emulator's own codes, or one a test scripted."""

ERROR_CODES: tuple[ErrorCode, ...] = get_args(ErrorCode)


class ApiError(Exception):
    status: int = 400
    code: Code = "InvalidParameter"
    default_message: ClassVar[str] = "Required parameter(s) missing or invalid, please check the request parameters."
    openai_type: ClassVar[str] = "invalid_request_error"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: Code | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        param: str | None = None,
    ) -> None:
        self.message = message or self.default_message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers = headers or {}
        self.param = param
        super().__init__(self.message)

    def body(self, request_id: str) -> dict[str, Any]:
        return {"request_id": request_id, "code": self.code, "message": self.message}

    def openai_body(self, request_id: str) -> dict[str, Any] | None:
        """An error whose OpenAI-compatible body differs from ``render_openai_error``'s (the compatible embeddings'
        algorithm errors) answers it here."""
        return None


class InvalidParameter(ApiError):
    pass


class MalformedBody(InvalidParameter):
    pass


class FileNotFound(InvalidParameter):
    default_message = "File not found."


class ModelNotExist(InvalidParameter):
    default_message = "Model not exist."


class EmptyModel(InvalidParameter):
    code: Code = "BadRequest.EmptyModel"
    default_message = 'Required parameter "model" missing from request.'


class EmptyInput(InvalidParameter):
    code: Code = "BadRequest.EmptyInput"
    default_message = "Required input parameter missing from request."


class UnsupportedOperation(ApiError):
    code: Code = "UnsupportedOperation"
    default_message = "The operation is not supported in the resource's current state."


class TooMany(ApiError):
    code: Code = "BadRequest.TooMany"
    default_message = "Too many items."


class TooLarge(ApiError):
    status = 413
    code: Code = "BadRequest.TooLarge"
    default_message = "Request body too large."


class HeadersTooLarge(ApiError):
    status = 431
    code: Code = "BadRequest.HeadersTooLarge"
    default_message = "Request header fields too large."


class InsufficientStorage(ApiError):
    """Not the client's mistake, but not a crash either: the disk under --data-dir/--db is full."""

    status = 507
    code: Code = "InsufficientStorage"
    default_message = "No space left on the emulator's disk; free some space and retry."
    openai_type = "internal_error"


class InvalidApiKey(ApiError):
    status = 401
    code: Code = "InvalidApiKey"
    default_message = "Invalid API-key provided."
    openai_type = "invalid_request_error"


class AccessDenied(ApiError):
    status = 403
    code: Code = "AccessDenied"
    default_message = "Access denied."


class NotFound(ApiError):
    status = 404
    code: Code = "NotFound"
    default_message = "Not found!"


class ModelNotFound(NotFound):
    code: Code = "ModelNotFound"
    default_message = "Model not found."


class MethodNotAllowed(ApiError):
    status = 405
    code: Code = "MethodNotAllowed"
    default_message = "Method not allowed."


class Conflict(ApiError):
    status = 409
    code: Code = "Conflict"
    default_message = "The resource already exists."


class UnsupportedMediaType(ApiError):
    status = 415
    code: Code = "UnsupportedMediaType"
    default_message = "Unsupported content type."


class Throttling(ApiError):
    status = 429
    code: Code = "Throttling"
    default_message = "Requests throttling triggered."
    openai_type = "rate_limit_error"


class InternalError(ApiError):
    status = 500
    code: Code = "InternalError"
    default_message = "An internal error has occured, please try again later or contact service support."
    openai_type = "internal_error"


class ServiceUnavailable(ApiError):
    status = 503
    code: Code = "ServiceUnavailable"
    default_message = "The service is temporarily unavailable, please try again later."
    openai_type = "internal_error"


class AdminTokenRequired(InvalidApiKey):
    """The control plane under ``--admin-token``: neither ``Authorization: Bearer`` nor ``X-Emulator-Token`` matched."""

    default_message = (
        "This control endpoint needs the admin token: send Authorization: Bearer <token> or X-Emulator-Token: <token>."
    )


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC/EDQUOT from a write, or SQLite's own "database or disk is full"."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc)


_OPENAI_CODES: dict[str, str] = {
    "InvalidParameter": "invalid_parameter_error",
    "ModelNotFound": "model_not_found",
    "InvalidApiKey": "invalid_api_key",
    "NotFound": "not_found",
    "Throttling": "rate_limit_exceeded",
    "Throttling.RateQuota": "rate_limit_exceeded",
    "InternalError": "internal_error",
}


def render_error(error: ApiError, request_id: str) -> dict[str, Any]:
    return error.body(request_id)


def render_openai_error(error: ApiError, request_id: str) -> dict[str, Any]:
    """OpenAI's error shape plus a top-level ``request_id`` (reference §7.1)."""
    custom = error.openai_body(request_id)
    if custom is not None:
        return custom
    message = "Incorrect API key provided." if isinstance(error, InvalidApiKey) else error.message
    code = _OPENAI_CODES.get(error.code, error.code)
    return {
        "error": {"message": message, "type": error.openai_type, "param": error.param, "code": code},
        "request_id": request_id,
    }
