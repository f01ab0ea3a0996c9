"""The finish callback's pure parts: the URL check at create, the host policy, the masked URL, and when a batch is
finalized (the moment its callback falls due) against its status."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.batches.callbacks import CallbackPolicy, check_url, is_loopback, shown_url
from emulator.batches.states import FINAL, BatchFacts, BatchStatus, due_to_finalize, finalize_at, status_at
from emulator.errors import InvalidParameter


@given(st.text(max_size=60) | st.builds(lambda s: "http://" + s, st.text(max_size=40)))
def test_a_callback_url_is_an_http_url_with_a_host_or_a_400(value: str) -> None:
    try:
        check_url(value)
    except InvalidParameter as exc:
        assert exc.param == "metadata.ds_batch_finish_callback"
        return
    parts = urlsplit(value)
    assert parts.scheme.lower() in ("http", "https") and parts.hostname and not any(c.isspace() for c in value)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("LOCALHOST", True),
     ("localhost.", True), ("::ffff:127.0.0.1", True), ("0.0.0.0", False), ("10.0.0.1", False), ("::", False),
     ("localhost.example", False), ("127.0.0.1.nip.io", False), ("2130706433", False), ("", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_host_policy() -> None:
    default = CallbackPolicy((), "127.0.0.1")
    assert default.refusal("http://127.0.0.1:9/x") is None and default.refusal("https://localhost/x") is None
    assert default.refusal("http://[::1]:9/x") is None
    refused = default.refusal("http://example.com/x")
    assert refused is not None and "--callback-host example.com" in refused
    assert default.refusal("http://127.0.0.1.nip.io/x") is not None  # judged by name, never resolved
    wide = CallbackPolicy((), "0.0.0.0")
    assert wide.refusal("http://127.0.0.1/x") is not None and "not bound to a loopback" in str(
        wide.refusal("http://127.0.0.1/x")
    )
    listed = CallbackPolicy(("hooks.internal, 10.0.0.5", "[2001:DB8::1]"), "0.0.0.0")
    assert listed.refusal("http://HOOKS.internal:8080/x") is None and listed.refusal("http://10.0.0.5/x") is None
    assert listed.refusal("http://[2001:db8::1]/x") is None and listed.refusal("http://127.0.0.1/x") is not None
    assert CallbackPolicy(("*",), "0.0.0.0").refusal("https://anywhere.example/x") is None
    off = CallbackPolicy(("*", "none"), "127.0.0.1")
    assert off.refusal("http://127.0.0.1/x") == "callbacks are off (--callback-host none)"


def test_a_password_in_the_url_is_masked() -> None:
    assert shown_url("http://user:secret@127.0.0.1:9/x?y=1") == "http://user:***@127.0.0.1:9/x?y=1"
    assert shown_url("http://127.0.0.1/x") == "http://127.0.0.1/x"


facts = st.builds(
    BatchFacts,
    created_at=st.floats(0, 1e6),
    validate_seconds=st.floats(0, 100),
    run_seconds=st.floats(0, 1e5),
    validated=st.booleans(),
    valid=st.booleans(),
    produced=st.booleans(),
    cancel_at=st.none() | st.floats(0, 2e6),
    finalized=st.just(False),
    window_seconds=st.sampled_from([86400.0, 3600.0, float("inf")]),
)


@given(facts, st.floats(0, 3e6))
def test_a_batch_is_finalized_exactly_when_it_first_reads_final_for_good(f: BatchFacts, now: float) -> None:
    """Once finalized at (or after) its finalize time, a batch reads final, so its callback carries a final status;
    before that time it is not due."""
    at = finalize_at(f)
    assert due_to_finalize(f, now) is (at is not None and now >= at)
    if at is None:
        return
    done = BatchFacts(**{**f.__dict__, "finalized": True})
    assert status_at(done, max(now, at)) in FINAL
    if not f.valid and f.cancel_at is None:
        assert status_at(done, max(now, at)) is BatchStatus.FAILED
