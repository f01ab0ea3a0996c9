"""Tenant labels: every pair of keys told apart, no key revealed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from emulator.tenants import LONG_KEY, key_hint, tenant_for

KEYS = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=64)


def test_the_readmes_keys_render_differently() -> None:
    labels = {key: key_hint(key) for key in ("sk-local", "sk-alice", "sk-bob", "sk-emulator-test")}
    assert len(set(labels.values())) == len(labels)
    for key, label in labels.items():
        assert label.startswith("sk… #") and key not in label
        assert label.endswith(tenant_for(key, None).id[:6])  # the fingerprint is the tenant id's start


def test_a_long_key_shows_a_prefix_and_suffix() -> None:
    key = "sk-" + "0123456789abcdef" * 2
    assert key_hint(key) == f"sk-01…def #{tenant_for(key, None).id[:6]}"


@given(KEYS)
def test_a_label_hides_most_of_any_key(key: str) -> None:
    label = key_hint(key)
    shown = label.split(" #", 1)[0].replace("…", "")
    assert len(shown) <= (8 if len(key) >= LONG_KEY else 2)
    assert len(key) < 4 or key not in label.split(" #", 1)[0]
    assert key_hint(key) == label  # stable


@given(KEYS, KEYS)
def test_two_keys_get_two_labels(a: str, b: str) -> None:
    if a != b and tenant_for(a, None).id[:6] != tenant_for(b, None).id[:6]:
        assert key_hint(a) != key_hint(b)
