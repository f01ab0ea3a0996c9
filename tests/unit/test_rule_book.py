"""The fault and response rule books share one base (``rules.book``): ids, add, list, remove, clear, the start's
rules back on a reset, ``count`` retiring a rule, a bounded size; and one table from a status to its error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from emulator.errors import ApiError, TooMany
from emulator.rules.book import RuleBook
from emulator.rules.fault_schemas import FaultRuleSpec
from emulator.rules.faults import ActiveRule, FaultRules
from emulator.rules.response_schemas import ResponseRuleSpec, ScriptedError
from emulator.rules.responses import ResponseRules
from emulator.rules.scripted import ChatView, scripted_error

Book = RuleBook[Any, Any, Any]


def fault(n: int, **extra: Any) -> FaultRuleSpec:
    return FaultRuleSpec(path=f"/api/v1/{n}", **extra)


def response(n: int, **extra: Any) -> ResponseRuleSpec:
    return ResponseRuleSpec(content=f"answer {n}", **extra)


BOOKS: list[tuple[Callable[..., Book], Callable[..., Any], str]] = [
    (lambda initial=None, limit=5: FaultRules(None, initial, limit), fault, "fault"),
    (lambda initial=None, limit=5: ResponseRules(initial, limit), response, "response"),
]


@pytest.mark.parametrize(("make", "spec", "prefix"), BOOKS, ids=["faults", "responses"])
def test_add_list_remove_clear(make: Callable[..., Book], spec: Callable[..., Any], prefix: str) -> None:
    book = make()
    first, second = book.add(spec(1)), book.add(spec(2))
    assert [r.id for r in book.list()] == [f"{prefix}-1", f"{prefix}-2"] == [first.id, second.id]
    assert book.remove(first.id) and not book.remove(first.id)
    assert [r.id for r in book.list()] == [second.id]
    assert book.add(spec(3)).id == f"{prefix}-3"  # ids are never reused
    assert book.clear() == 2 and book.list() == []


@pytest.mark.parametrize(("make", "spec", "prefix"), BOOKS, ids=["faults", "responses"])
def test_a_reset_brings_back_the_start_rules_with_fresh_counts(
    make: Callable[..., Book], spec: Callable[..., Any], prefix: str
) -> None:
    book = make([spec(1, count=2)])
    [started] = book.list()
    book.count_hit(started)
    book.add(spec(2))
    book.restore_initial()
    [again] = book.list()
    assert again.hits == 0
    assert again.id != started.id and again.id.startswith(prefix)


@pytest.mark.parametrize(("make", "spec", "prefix"), BOOKS, ids=["faults", "responses"])
def test_count_retires_a_rule_at_its_last_hit(make: Callable[..., Book], spec: Callable[..., Any], prefix: str) -> None:
    book = make()
    rule = book.add(spec(1, count=2))
    book.count_hit(rule)
    assert book.list() == [rule] and rule.hits == 1
    book.count_hit(rule)
    assert book.list() == [] and rule.hits == 2


@pytest.mark.parametrize(("make", "spec", "prefix"), BOOKS, ids=["faults", "responses"])
def test_a_full_book_refuses_with_a_400(make: Callable[..., Book], spec: Callable[..., Any], prefix: str) -> None:
    book = make(limit=2)
    book.add(spec(1))
    book.add(spec(2))
    with pytest.raises(ApiError) as refused:
        book.add(spec(3))
    assert refused.value.status == 400 and len(book.list()) == 2
    assert isinstance(refused.value, TooMany) == (prefix == "fault")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 418, 429, 500, 502, 503, 504, 599])
def test_faults_and_scripted_errors_share_the_status_table(status: int) -> None:
    by_fault = ActiveRule(FaultRules().add(fault(1, status=status))).error()
    scripted = scripted_error(ScriptedError(status=status))
    assert (type(by_fault), by_fault.code, by_fault.status, by_fault.message) == (
        type(scripted),
        scripted.code,
        scripted.status,
        scripted.message,
    )
    assert by_fault.status == status


def test_gateway_statuses_keep_their_codes() -> None:
    codes = {s: scripted_error(ScriptedError(status=s)).code for s in (409, 413, 502, 503, 504)}
    assert codes == {
        409: "Conflict",
        413: "BadRequest.TooLarge",
        502: "BadGateway",
        503: "ServiceUnavailable",
        504: "GatewayTimeout",
    }


def test_a_scripted_code_and_message_win() -> None:
    error = scripted_error(ScriptedError(status=429, code="Throttling.RateQuota", message="slow down"))
    assert (error.status, error.code, error.message) == (429, "Throttling.RateQuota", "slow down")


def test_a_response_rule_answers_through_the_shared_hit_count() -> None:
    book = ResponseRules()
    rule = book.add(ResponseRuleSpec(replies=[{"content": "one"}, {"content": "two"}], count=3))  # type: ignore[list-item]
    view = ChatView(model="qwen-plus", tenant_id="t")
    answers = [book.answer(view, "rid") for _ in range(4)]
    assert [a.content if a else None for a in answers] == ["one", "two", "two", None]
    assert rule.hits == 3 and book.list() == []
