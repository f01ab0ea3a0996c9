"""The public recordings replayed against a live emulator: every exchange on an endpoint it serves conforms by
structure, or differs in a way ``expected.json`` lists with its reason (README, Decisions)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from emulator.conformance.replay import CONFORMS, DIFFERS, ERROR, NOT_SERVED, Expectations, Replayer, report, summary
from emulator.testing import EmulatorServer
from tests.conformance.conftest import CORPUS, EXPECTED, KEY

pytestmark = [pytest.mark.live, pytest.mark.slow]


def test_the_public_corpus_conforms(
    emulator: EmulatorServer, exchanges: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    expectations = Expectations.load(EXPECTED)
    with Replayer(emulator.url, api_key=KEY, control_url=emulator.url) as replayer:
        outcomes = replayer.run(exchanges, expectations)
    text = report(outcomes)
    with capsys.disabled():
        print("\n" + text.splitlines()[-1])
    counts = summary(outcomes)
    assert counts[DIFFERS] == 0 and counts[ERROR] == 0, text
    assert counts["replayed"] >= 75, text  # the figure the README states can only grow
    # every deliberate difference is still needed by some exchange (a fixed one is taken off the list)
    used = {
        (d.exchange, d.key)
        for o in outcomes
        for diff, _ in o.accepted
        for d in expectations.deliberate
        if _matches(d.exchange, o.exchange) and _matches(d.key, diff.key)
    }
    stale = [(d.exchange, d.key) for d in expectations.deliberate if (d.exchange, d.key) not in used]
    pending = [d for d in expectations.deliberate if d.reason.startswith("pending:")]
    assert not [s for s in stale if not any((p.exchange, p.key) == s for p in pending)], stale


def _matches(pattern: str, value: str) -> bool:
    from fnmatch import fnmatchcase

    return fnmatchcase(value, pattern)


def test_every_exchange_names_its_source_and_holds_no_secret(exchanges: list[dict[str, Any]]) -> None:
    assert len(exchanges) >= 95
    for exchange in exchanges:
        source = exchange["source"]
        assert source["repo"] in ("cnblogs/dashscope-sdk", "dashscope/dashscope-sdk-python"), exchange["id"]
        assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]) and source["path"], exchange["id"]
        text = json.dumps(exchange, ensure_ascii=False)
        assert not re.search(r"\bsk-[A-Za-z0-9]{16,}", text), exchange["id"]
        assert not re.search(r"(Signature|OSSAccessKeyId|security-token)=(?!<redacted>)", text), exchange["id"]
        assert not re.search(r'"(policy|signature)": "(?!<redacted>)', text), exchange["id"]
        assert not re.search(r'"(user_identity|user_id|creator|api_key_id|caller_uid)": "(?!0+")', text), exchange["id"]
    assert all(path.stat().st_size < 64_000 for path in CORPUS.glob("*.json")), "trim huge bodies"


def test_not_served_entries_name_endpoints_the_emulator_lacks(emulator: EmulatorServer) -> None:
    """A path listed as not served must still answer 404 here: once it is served, its line must go."""
    expectations = Expectations.load(EXPECTED)
    samples = {
        "^/api/v1/apps/": "/api/v1/apps/x/completion",
    }
    import httpx

    for pattern, _ in expectations.not_served:
        sample = samples.get(pattern.pattern)
        if sample is None:
            continue
        answer = httpx.post(emulator.url + sample, headers={"authorization": f"Bearer {KEY}"}, json={})
        if answer.status_code != 404:
            pytest.fail(f"{sample} is served now ({answer.status_code}): drop {pattern.pattern} from expected.json")


def test_outcomes_are_counted(emulator: EmulatorServer, exchanges: list[dict[str, Any]]) -> None:
    """Without the expectations, the same replay reports the deliberate differences and the unserved endpoints as
    differences: the suite above passes because of the list, not because the comparison is blind."""
    by_id = {e["id"]: e for e in exchanges}
    # a stream that conforms exactly (single-generation-text-sse now differs by the 2026 prompt_tokens_details)
    names = (
        "cnblogs/upload-file-nosse",
        "cnblogs/single-generation-message-search-sse",
        "cnblogs/image-synthesis-nosse",
    )
    picked = [by_id[n] for n in names]
    with Replayer(emulator.url, api_key=KEY, control_url=emulator.url) as replayer:
        outcomes = replayer.run(picked)
    # an endpoint missing from the emulator's OpenAPI document is found out even without the list
    assert [o.verdict for o in outcomes] == [DIFFERS, CONFORMS, NOT_SERVED]
    assert Expectations.load(EXPECTED).not_served_reason("/api/v1/services/aigc/text2image/image-synthesis")
