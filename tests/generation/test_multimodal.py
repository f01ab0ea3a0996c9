"""Native multimodal generation in-process: answer shapes, streams, and the service's 400s for bad content."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.generation.media import MAX_DATA_URI_BYTES

PATH = "/api/v1/services/aigc/multimodal-generation/generation"
SSE = {"X-DashScope-SSE": "enable"}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake image bytes").decode()


def body(
    image: Any = "https://cdn.example.com/pics/dog.jpg", model: str = "qwen-vl-plus", **parameters: Any
) -> dict[str, Any]:
    content = [{"image": image}, {"text": "What is in the picture?"}]
    return {"model": model, "input": {"messages": [{"role": "user", "content": content}]}, "parameters": parameters}


def events(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]


async def error_of(client: httpx.AsyncClient, payload: dict[str, Any], **kw: Any) -> tuple[int, str, str]:
    response = await client.post(PATH, json=payload, **kw)
    data = response.json()
    return response.status_code, data.get("code"), data.get("message")


@pytest.mark.anyio
async def test_answer_shape_and_2025_usage(client: httpx.AsyncClient) -> None:
    response = await client.post(PATH, json=body(seed=1))
    assert response.status_code == 200
    data = response.json()
    choice = data["output"]["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
    assert [list(p) for p in choice["message"]["content"]] == [["text"]] and "reasoning_content" not in choice[
        "message"
    ]
    usage = data["usage"]
    assert usage["image_tokens"] == usage["input_tokens_details"]["image_tokens"] == 256
    assert usage["input_tokens"] == usage["input_tokens_details"]["text_tokens"] + 256
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["output_tokens_details"] == {"text_tokens": usage["output_tokens"]}
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0}


@pytest.mark.anyio
async def test_the_image_changes_the_answer_and_the_same_request_repeats_it(client: httpx.AsyncClient) -> None:
    first = (await client.post(PATH, json=body(seed=1))).json()["output"]
    again = (await client.post(PATH, json=body(seed=1))).json()["output"]
    other = (await client.post(PATH, json=body("https://cdn.example.com/pics/cat.jpg", seed=1))).json()["output"]
    assert first == again and other != first


@pytest.mark.anyio
async def test_streams_cumulative_by_default_and_incremental_on_request(client: httpx.AsyncClient) -> None:
    text = (await client.post(PATH, json=body(seed=2))).json()["output"]["choices"][0]["message"]["content"][0]["text"]
    cumulative = events(await client.post(PATH, json=body(seed=2), headers=SSE))
    assert [c["output"]["choices"][0]["finish_reason"] for c in cumulative][-1] == "stop"
    assert cumulative[-1]["output"]["choices"][0]["message"]["content"] == [{"text": text}]
    assert all(c["output"]["choices"][0]["finish_reason"] == "null" for c in cumulative[:-1])
    deltas = events(await client.post(PATH, json=body(seed=2, incremental_output=True), headers=SSE))
    # the last delta carries the last piece and the finish reason (recorded: cnblogs multimodal-generation-vl-sse)
    assert deltas[-1]["output"]["choices"][0]["finish_reason"] == "stop"
    assert "".join(d["output"]["choices"][0]["message"]["content"][0]["text"] for d in deltas) == text
    outputs = [d["usage"]["output_tokens"] for d in deltas]
    assert outputs == sorted(outputs) and len({d["request_id"] for d in deltas}) == 1


@pytest.mark.anyio
async def test_base64_images_and_video_frames_are_accepted(client: httpx.AsyncClient) -> None:
    assert (await client.post(PATH, json=body(f"data:image/png;base64,{PNG}"))).status_code == 200
    frames = {
        "model": "qwen-vl-max",
        "input": {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"video": ["https://cdn.example.com/f1.jpg", "https://cdn.example.com/f2.jpg"]},
                        {"text": "What happens?"},
                    ],
                }
            ]
        },
    }
    response = await client.post(PATH, json=frames)
    assert response.status_code == 200 and response.json()["usage"]["video_tokens"] == 2 * 256
    plain = {"model": "qwen-vl-max", "input": {"messages": [{"role": "user", "content": "no picture today"}]}}
    assert (await client.post(PATH, json=plain)).status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("https://unreachable.example/dog.jpg", "Failed to download multimodal content"),
        ("http://cdn.invalid/dog.jpg", "Failed to download multimodal content"),
        ("ftp://example.com/dog.jpg", "url error, please check url！"),
        ("dog.jpg", "url error, please check url！"),
        ("https:///nohost.jpg", "url error, please check url！"),
        ("oss://dashscope-instant/abc/2024-01-01/x/dog.jpg", "url error, please check url！"),
        (
            "data:image/png;base64,@@@",
            "The provided URL does not appear to be valid. Ensure it is correctly formatted.",
        ),
        ("data:image/png,notbase64", "The provided URL does not appear to be valid. Ensure it is correctly formatted."),
    ],
)
async def test_bad_image_references_are_the_service_s_400s(client: httpx.AsyncClient, image: str, message: str) -> None:
    assert await error_of(client, body(image)) == (400, "InvalidParameter", message)


@pytest.mark.anyio
async def test_a_data_uri_over_the_limit_is_refused(client: httpx.AsyncClient) -> None:
    big = "data:image/png;base64," + "A" * (MAX_DATA_URI_BYTES * 4 // 3 + 8)
    status, code, message = await error_of(client, body(big))
    assert (status, code) == (400, "InvalidParameter") and "max bytes per data-uri" in message


@pytest.mark.anyio
@pytest.mark.parametrize(
    "content",
    [
        [{"image": "https://a.example.com/x.png", "text": "two keys"}],
        [{"picture": "https://a.example.com/x.png"}],
        [{"image": 42}],
        [{"video": []}],
        ["just a string in a list"],
        {"text": "an object, not a list"},
        42,
    ],
)
async def test_malformed_content_lists_are_400s(client: httpx.AsyncClient, content: Any) -> None:
    payload = {"model": "qwen-vl-plus", "input": {"messages": [{"role": "user", "content": content}]}}
    status, code, message = await error_of(client, payload)
    assert (status, code) == (400, "InvalidParameter") and "input.messages[0].content" in message


@pytest.mark.anyio
async def test_other_refusals(client: httpx.AsyncClient) -> None:
    status, code, message = await error_of(client, body(model="qwen-max"))
    assert (status, code) == (400, "InvalidParameter") and message.startswith("url error, please check url！")
    no_user = {"model": "qwen-vl-plus", "input": {"messages": [{"role": "system", "content": [{"text": "hi"}]}]}}
    assert (await error_of(client, no_user))[2] == "The input messages do not contain elements with the role of user."
    assert (await error_of(client, body(model="qwen-vl-nope")))[2] == "Model not exist."
    assert (await error_of(client, {"model": "qwen-vl-plus", "input": {}}))[1] == "BadRequest.EmptyInput"
    media_reply = {
        "model": "qwen-vl-plus",
        "input": {
            "messages": [
                {"role": "user", "content": [{"text": "hi"}]},
                {"role": "assistant", "content": [{"image": "https://a.example.com/x.png"}]},
                {"role": "user", "content": [{"text": "and?"}]},
            ]
        },
    }
    assert "only accepted in user messages" in (await error_of(client, media_reply))[2]


@given(
    content=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(["text", "image", "video", "audio", "fps", "x"]), inner, max_size=3)
        ),
        max_leaves=8,
    )
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@pytest.mark.anyio
async def test_any_content_is_an_answer_or_a_400_never_a_500(client: httpx.AsyncClient, content: Any) -> None:
    payload = {"model": "qwen-vl-plus", "input": {"messages": [{"role": "user", "content": content}]}}
    response = await client.post(PATH, json=payload)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json()["code"] in ("InvalidParameter", "BadRequest.EmptyInput")


@pytest.mark.anyio
async def test_response_rules_answer_through_the_real_multimodal_route(client: httpx.AsyncClient) -> None:
    """The scripting hook (``replies.script``) is the multimodal endpoint's answer step too."""
    assert (
        await client.post("/_emulator/responses", json={"contains": "picture", "content": "A beach."})
    ).status_code == 200
    plain = (await client.post(PATH, json=body())).json()["output"]["choices"][0]
    assert plain["message"] == {"role": "assistant", "content": [{"text": "A beach."}]}
    chunks = events(await client.post(PATH, json=body(incremental_output=True), headers=SSE))
    assert [c["output"]["choices"][0]["message"]["content"] for c in chunks] == [[{"text": "A beach."}], []]
    chat = {
        "model": "qwen-vl-plus",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "https://cdn.example.com/a.png"}},
                    {"type": "text", "text": "What is in this picture?"},
                ],
            }
        ],
    }
    answered = (await client.post("/compatible-mode/v1/chat/completions", json=chat)).json()
    assert answered["choices"][0]["message"]["content"] == "A beach."


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.integers(513, 800_000), parts=st.integers(1, 3), scheme=st.sampled_from(["oss", "data", "https"]))
@pytest.mark.anyio
async def test_huge_frame_lists_are_refused_before_any_frame_is_resolved(
    client: httpx.AsyncClient, frames: int, parts: int, scheme: str
) -> None:
    """Issue 24: 800,000 frames were resolved one by one before the 400; the list is capped while parsing."""
    import time
    import tracemalloc

    frame = {"oss": "oss://dashscope-instant/x/f.png", "data": f"data:image/png;base64,{PNG}"}.get(
        scheme, "https://example.com/f.png"
    )
    content = [{"video": [frame] * frames} for _ in range(parts)] + [{"text": "what happens?"}]
    payload = {"model": "qwen-vl-plus", "input": {"messages": [{"role": "user", "content": content}]}}
    raw = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "X-DashScope-OssResourceResolve": "enable"}
    started = time.perf_counter()
    response = await client.post(PATH, content=raw, headers=headers)
    elapsed = time.perf_counter() - started
    assert response.status_code in (400, 413), response.text[:200]  # 413: past the body limit, unread
    assert response.status_code == 413 or "frames" in response.json()["message"]
    assert elapsed < 1.5 + len(raw) / 5e6  # parsing the body, not resolving 800,000 frames one by one
    tracemalloc.start()
    await client.post(PATH, content=raw, headers=headers)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 40 * len(raw) + (16 << 20)


@pytest.mark.anyio
async def test_frame_lists_within_the_caps_answer(client: httpx.AsyncClient) -> None:
    frames = [f"https://example.com/f{i}.png" for i in range(16)]
    payload = {"model": "qwen-vl-plus", "input": {"messages": [{"role": "user", "content": [{"video": frames}]}]}}
    assert (await client.post(PATH, json=payload)).status_code == 200
    payload["input"]["messages"][0]["content"] = [{"video": frames * 32}] * 5  # 5 x 512 = 2,560 frames
    refused = await client.post(PATH, json=payload)
    assert refused.status_code == 400 and "2048 frames" in refused.json()["message"]


PICTURE_TOOL = {
    "type": "function",
    "function": {
        "name": "describe_picture",
        "description": "Describe what is in a picture or a video",
        "parameters": {"type": "object", "properties": {"subject": {"type": "string"}}},
    },
}


@pytest.mark.anyio
@pytest.mark.parametrize("choice", ["auto", "required", {"type": "function", "function": {"name": "describe_picture"}}])
async def test_a_tool_call_does_not_skip_the_media_checks(client: httpx.AsyncClient, choice: Any) -> None:
    """A call the tool policy (or a forced ``tool_choice``) decides still needs a model that takes the media, and
    references that resolve: the media checks ran only on the way to a text answer, so an OCR model called a tool
    for a video, a text model on the multimodal endpoint for an image, and a broken URL went unnoticed."""
    tools = {"tools": [PICTURE_TOOL], "tool_choice": choice, "result_format": "message"}
    video = [{"video": ["https://cdn.example.com/f1.png", "https://cdn.example.com/f2.png"]}, {"text": "Describe it"}]
    ocr = {"model": "qwen-vl-ocr", "input": {"messages": [{"role": "user", "content": video}]}, "parameters": tools}
    assert await error_of(client, ocr) == (
        400,
        "InvalidParameter",
        "The model qwen-vl-ocr does not support video input.",
    )
    streamed = await client.post(PATH, json=ocr, headers=SSE)
    assert "event:error" in streamed.text and "does not support video input" in streamed.text
    text_model = body(model="qwen-max", **tools)
    status, _, message = await error_of(client, text_model)
    assert status == 400 and message.startswith("url error, please check url！")
    unreachable = body("https://unreachable.example/dog.jpg", **tools)
    assert await error_of(client, unreachable) == (400, "InvalidParameter", "Failed to download multimodal content")
    # the same requests with media the model takes: the tool is called
    called = (await client.post(PATH, json=body(**tools))).json()
    assert called["output"]["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "describe_picture"
