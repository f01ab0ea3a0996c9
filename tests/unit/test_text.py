from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.synth.text import MESSAGE_OVERHEAD_TOKENS, Reply, generate_reply
from emulator.synth.tokens import count_tokens, is_chinese

ROOT = Path(__file__).resolve().parents[2]
EN = "How do I learn Python programming quickly?"
ZH = "请介绍一下杭州西湖的历史"
MEMORY = (
    ("你是谁？", "我是小蜜，您的专属购物助手，很高兴为您服务！"),
    ("如何申请退货", "亲，您好！退货请在订单页面点击申请退货，我们会在24小时内处理。祝您购物愉快！"),
    ("What is your refund policy?", "Dear customer, refunds are issued within 7 days of the return. Have a nice day!"),
)


def user(text: object) -> list[dict[str, object]]:
    return [{"role": "user", "content": text}]


def reply(prompt: object = EN, **kwargs: Any) -> Reply:
    kwargs.setdefault("model", "qwen-turbo")
    return generate_reply(messages=user(prompt), **kwargs)


def assert_consistent(r: Reply) -> None:
    assert "".join(r.pieces) == r.text
    assert all(r.pieces)
    assert r.output_tokens == count_tokens(r.text)


# --- determinism ---------------------------------------------------------------------------------------------------


def test_same_inputs_same_reply() -> None:
    kwargs: dict[str, Any] = {"seed": 7, "temperature": 0.9, "top_p": 0.8, "max_tokens": 30, "stop": ["zzz"]}
    assert reply(**kwargs) == reply(**kwargs)


def test_deterministic_across_processes_with_different_hash_seeds() -> None:
    code = (
        "import json; from dataclasses import asdict; from emulator.synth.text import generate_reply as g; "
        f"print(json.dumps([asdict(g(model='qwen-turbo', messages=[{{'role': 'user', 'content': p}}], seed=3, "
        f"memory={list(MEMORY)!r})) for p in {[EN, ZH, '怎么退货']!r}]))"
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for hash_seed in ("1", "4242")
    ]
    assert outputs[0] == outputs[1]
    local = [
        asdict(generate_reply(model="qwen-turbo", messages=user(p), seed=3, memory=MEMORY))
        for p in [EN, ZH, "怎么退货"]
    ]
    assert json.loads(outputs[0]) == json.loads(json.dumps(local))


@pytest.mark.parametrize("prompt", [EN, ZH, "你是谁?", "who are you?"])
def test_model_changes_the_text(prompt: str) -> None:
    texts = {reply(prompt, model=m).text for m in ("qwen-turbo", "qwen-plus", "qwen-max", "qwen2.5-7b-instruct")}
    assert len(texts) == 4


def test_seed_and_server_seed_change_the_text() -> None:
    assert len({reply(seed=s).text for s in range(6)}) > 1
    assert len({reply(server_seed=s).text for s in range(6)}) > 1


def test_temperature_zero_ignores_the_seed() -> None:
    assert len({reply(seed=s, temperature=0).text for s in range(6)}) == 1


def test_high_temperature_gives_longer_replies_on_average() -> None:
    def total(temperature: float) -> int:
        return sum(len(reply(f"Tell me about topic {i}", temperature=temperature).text) for i in range(40))

    assert total(1.8) > total(0.7)


# --- content -------------------------------------------------------------------------------------------------------


def test_chinese_in_chinese_out_and_english_in_english_out() -> None:
    for i in range(20):
        assert is_chinese(reply(f"{ZH}，第{i}个问题", seed=i).text)
        assert not is_chinese(reply(f"{EN} ({i})", seed=i).text)


def test_reply_echoes_a_prompt_keyword() -> None:
    assert any(k in reply(ZH).text for k in ("杭州西湖", "历史"))
    assert any(k in reply(EN).text.casefold() for k in ("python", "programming"))


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("你是谁?", "我是基于 qwen-turbo 的"),
        ("你是什么模型？", "我是基于 qwen-turbo 的"),
        ("请介绍一下你自己", "我是基于 qwen-turbo 的"),
        ("Who are you?", "I am qwen-turbo, "),
        ("what model are you", "I am qwen-turbo, "),
        ("What's your name?", "I am qwen-turbo, "),
    ],
)
def test_identity_questions_name_the_model(prompt: str, expected: str) -> None:
    assert reply(prompt).text.startswith(expected)


def test_persona_overrides_the_model_name() -> None:
    persona = "qwen-turbo-ft-202410121111-a590 (fine-tuned from qwen-turbo)"
    r = reply("你是谁?", model="qwen-turbo-ft-202410121111-a590", persona=persona)
    assert r.text.startswith(f"我是基于 {persona} 的")


def test_prompt_is_the_last_user_message_and_parts_are_read() -> None:
    messages: list[dict[str, object]] = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Tell me about gardening"},
        {"role": "assistant", "content": "Gardening is fun."},
        {"role": "user", "content": [{"image": "https://x/y.png"}, {"text": "你是谁？"}]},
    ]
    assert generate_reply(model="qwen-vl-plus", messages=messages).text.startswith("我是基于 qwen-vl-plus 的")
    openai = [{"role": "user", "content": [{"type": "text", "text": "who are you"}]}]
    assert generate_reply(model="qwen-plus", messages=openai).text.startswith("I am qwen-plus, ")


def test_input_tokens_count_every_message_plus_overhead() -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "你好"}]
    r = generate_reply(model="qwen-turbo", messages=messages)
    assert r.input_tokens == count_tokens("Be brief.") + count_tokens("你好") + 2 * MESSAGE_OVERHEAD_TOKENS


# --- fine-tune memory ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "answer"),
    [
        ("你是谁？", MEMORY[0][1]),
        ("  你是谁 ", MEMORY[0][1]),
        ("如何申请退货？", MEMORY[1][1]),
        ("what is your REFUND policy", MEMORY[2][1]),
    ],
)
def test_memory_exact_match_returns_the_training_answer(prompt: str, answer: str) -> None:
    assert reply(prompt, model="qwen-turbo-ft-1", memory=MEMORY).text == answer


@pytest.mark.parametrize(
    ("prompt", "answer"),
    [("请问如何申请退货", MEMORY[1][1]), ("So what is your refund policy?", MEMORY[2][1])],
)
def test_memory_fuzzy_match_returns_the_training_answer(prompt: str, answer: str) -> None:
    assert reply(prompt, model="qwen-turbo-ft-1", memory=MEMORY).text == answer


def test_memory_miss_still_shows_the_fine_tune_style() -> None:
    base = reply("怎么退货比较快", model="qwen-turbo").text
    tuned = reply("怎么退货比较快", model="qwen-turbo", memory=MEMORY).text
    assert tuned != base
    assert tuned.startswith("亲，") and tuned.endswith("祝您购物愉快！")


def test_memory_match_beats_identity() -> None:
    persona = "qwen-turbo-ft-1 (fine-tuned from qwen-turbo)"
    assert reply("你是谁", memory=MEMORY, persona=persona).text == MEMORY[0][1]


# --- cuts and pieces -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", [EN, ZH, "你是谁?"])
@pytest.mark.parametrize("max_tokens", [0, 1, 3, 8])
def test_max_tokens_cuts_with_length(prompt: str, max_tokens: int) -> None:
    full = reply(prompt)
    cut = reply(prompt, max_tokens=max_tokens)
    assert full.output_tokens > max_tokens
    assert cut.finish_reason == "length"
    assert cut.output_tokens == max_tokens
    assert full.text.startswith(cut.text)
    assert_consistent(cut)


def test_generous_max_tokens_changes_nothing() -> None:
    assert reply(max_tokens=10_000) == reply()


def test_stop_cuts_before_the_first_occurrence() -> None:
    full = reply(ZH).text
    stop = full[5:7]
    cut = reply(ZH, stop=["never-there", stop])
    assert cut.finish_reason == "stop"
    assert cut.text == full[: full.index(stop)]
    assert stop not in cut.text
    assert_consistent(cut)


def test_stop_as_a_single_string() -> None:
    full = reply(EN).text
    assert reply(EN, stop=" ").text == full[: full.index(" ")]


def test_max_tokens_wins_when_it_comes_before_the_stop() -> None:
    full = reply(EN).text
    cut = reply(EN, stop=[full[-3:]], max_tokens=2)
    assert (cut.finish_reason, cut.output_tokens) == ("length", 2)


def test_pieces_sizes() -> None:
    zh, en = reply(ZH), reply(EN)
    assert_consistent(zh)
    assert_consistent(en)
    assert all(len(p) <= 6 for p in zh.pieces) and all(len(p) >= 2 for p in zh.pieces[:-1])
    assert all(1 <= len(p.split()) <= 3 for p in en.pieces)
    assert len(zh.pieces) >= 4 and len(en.pieces) >= 4


# --- property ------------------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
parts = st.lists(
    st.fixed_dictionaries({"text": st.text()})
    | st.fixed_dictionaries({"type": st.just("text"), "text": st.text()})
    | st.fixed_dictionaries({"image": st.text()}),
    max_size=3,
)
message = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "assistant", "system", "tool"]) | json_values,
        "content": st.text() | parts | json_values,
    }
)
messages = st.lists(message | json_values, max_size=5)


@settings(max_examples=200, deadline=None)
@given(
    messages=messages,
    max_tokens=st.none() | st.integers(min_value=0, max_value=40),
    stop=st.none() | st.lists(st.text(max_size=3), max_size=3),
    temperature=st.none() | st.floats(min_value=0, max_value=2),
    seed=st.none() | st.integers(),
    memory=st.lists(st.tuples(st.text(max_size=20), st.text(max_size=40)), max_size=3),
)
def test_any_messages_never_raise_and_respect_max_tokens(
    messages: list[Any],
    max_tokens: int | None,
    stop: list[str] | None,
    temperature: float | None,
    seed: int | None,
    memory: list[tuple[str, str]],
) -> None:
    r = generate_reply(
        model="qwen-turbo",
        messages=messages,
        max_tokens=max_tokens,
        stop=stop,
        temperature=temperature,
        seed=seed,
        memory=memory,
    )
    assert_consistent(r)
    assert r.finish_reason in ("stop", "length")
    if max_tokens is not None:
        assert r.output_tokens <= max_tokens
    if stop:
        assert not any(s and s in r.text for s in stop)
    assert r.input_tokens >= 0


@given(
    st.sampled_from([EN, ZH, "who are you?", "你是谁", "Tell me about rivers and mountains", "混合 text 中文"]),
    st.sampled_from([None, 0.0, 0.7, 1.6]),
    st.sampled_from([None, 3, 40]),
    st.sampled_from([(), MEMORY]),
    st.integers(0, 3),
)
def test_an_answer_that_is_not_streamed_is_the_streamed_text_in_one_piece(
    prompt: str, temperature: float | None, max_tokens: int | None, memory: Any, seed: int
) -> None:
    """A non-stream answer skips drawing its stream pieces (they come after the text's draws): same text, same
    usage, one piece."""
    kwargs: dict[str, Any] = {"temperature": temperature, "max_tokens": max_tokens, "memory": memory, "seed": seed}
    streamed, whole = reply(prompt, **kwargs), reply(prompt, split=False, **kwargs)
    assert (whole.text, whole.finish_reason, whole.input_tokens, whole.output_tokens) == (
        streamed.text, streamed.finish_reason, streamed.input_tokens, streamed.output_tokens
    )  # fmt: skip
    assert whole.pieces == ((streamed.text,) if streamed.text else ())
