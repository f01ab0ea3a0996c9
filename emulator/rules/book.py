"""What the fault and the response rule books share: a bounded list of rules with ids, added, listed, removed,
cleared and set back to the start file's rules on a reset, each hit counted (a rule with ``count`` retires after
that many); and the one table from an HTTP status to the emulator's error for it.

A book holds *entries*: the stored rule (``spec``, what the control plane lists) plus what matching needs,
worked out once when the rule is added.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from emulator.errors import (
    AccessDenied,
    ApiError,
    Conflict,
    ErrorCode,
    InternalError,
    InvalidApiKey,
    InvalidParameter,
    NotFound,
    ScriptedCode,
    ServiceUnavailable,
    Throttling,
    TooLarge,
)

if TYPE_CHECKING:  # the rules' schemas, and pydantic, come with the first rule
    from pydantic import BaseModel

_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidParameter,
    401: InvalidApiKey,
    403: AccessDenied,
    404: NotFound,
    409: Conflict,
    413: TooLarge,
    429: Throttling,
    500: InternalError,
}
_GATEWAY_CODES: dict[int, ErrorCode] = {502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}


def error_class(status: int) -> type[ApiError]:
    """The emulator's own error class for a status, so the OpenAI shape gets the right ``type`` too."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServiceUnavailable if status in _GATEWAY_CODES else InternalError
    return ApiError


def rule_error(status: int, code: str | None, message: str | None, headers: dict[str, str] | None = None) -> ApiError:
    """The error a rule answers: its status, its code (by default the service's code for the status), its message
    (by default the error class's)."""
    cls = error_class(status)
    return cls(
        message or cls.default_message,
        code=ScriptedCode(code) if code else _GATEWAY_CODES.get(status, cls.code),
        status=status,
        headers=headers,
    )


class StoredRule(Protocol):
    """A rule as the control plane lists it."""

    id: str
    hits: int
    count: int | None


RuleT = TypeVar("RuleT", bound=StoredRule)
SpecT = TypeVar("SpecT", bound="BaseModel")


class Entry(Protocol):
    @property
    def spec(self) -> Any: ...


EntryT = TypeVar("EntryT", bound=Entry)


class RuleBook(Generic[SpecT, RuleT, EntryT]):
    """The rule list of this process (each ``--workers`` process has its own).

    A subclass names its ``prefix`` (rule ids are ``<prefix>-1``, ``-2``, ...) and says how a posted spec becomes
    a stored rule and its entry (``_enter``), and what adding past ``limit`` answers (``_full``).
    """

    prefix: ClassVar[str]

    def __init__(self, initial: Iterable[SpecT] | None, limit: int) -> None:
        self.limit = limit
        self.rules: list[EntryT] = []
        self._initial = list(initial or [])
        self._next = 1
        self.restore_initial()

    def _enter(self, spec: SpecT, rule_id: str) -> tuple[RuleT, EntryT]:
        raise NotImplementedError

    def _full(self) -> ApiError:
        raise NotImplementedError

    def add(self, spec: SpecT) -> RuleT:
        if len(self.rules) >= self.limit:
            raise self._full()
        rule, entry = self._enter(spec, f"{self.prefix}-{self._next}")
        self._next += 1
        self.rules = [*self.rules, entry]  # a new list: a request walking the old one is not disturbed
        return rule

    def list(self) -> list[RuleT]:
        return [entry.spec for entry in self.rules]

    def remove(self, rule_id: str) -> bool:
        kept = [entry for entry in self.rules if entry.spec.id != rule_id]
        found = len(kept) != len(self.rules)
        self.rules = kept
        return found

    def clear(self) -> int:
        removed = len(self.rules)
        self.rules = []
        return removed

    def restore_initial(self) -> None:
        """Back to the rules of the start file (``--faults FILE``, ``--responses FILE``; none without it), their
        hit counts at zero: what a whole reset does."""
        self.rules = []
        for spec in self._initial:
            self.add(spec)

    def count_hit(self, rule: RuleT) -> None:
        """One more hit of ``rule``; a rule with ``count`` retires at its last."""
        rule.hits += 1
        if rule.count is not None and rule.hits >= rule.count:
            self.remove(rule.id)
