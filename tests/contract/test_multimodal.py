"""Vision models through the real SDKs: ``MultiModalConversation.call`` (1.20.11 and 2.0.2) and the 2.0.2
``Client``, with images as URLs, base64 data URIs and ``file://`` paths (the SDK's own upload-policy + OSS form
POST flow, unmodified), plain and streaming; a deployed VL fine-tune answers from its training rows; thinking."""

from __future__ import annotations

import base64
import json
import zipfile
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from emulator.testing import EmulatorServer
from tests.conftest import DATASETS
from tests.contract.conftest import Sdk

IMAGE_ZIP = DATASETS / "image_sft.zip"


def _train_rows() -> dict[str, str]:
    """Image file name -> the answer its training row gives."""
    with zipfile.ZipFile(IMAGE_ZIP) as archive:
        lines = archive.read("image_sft/train.jsonl").decode().splitlines()
    out: dict[str, str] = {}
    for line in lines:
        row = json.loads(line)
        images = [
            p["image"] for m in row["messages"] if isinstance(m["content"], list) for p in m["content"] if "image" in p
        ]
        answer = row["messages"][-1]["content"]
        text = answer if isinstance(answer, str) else "".join(p.get("text", "") for p in answer)
        if len(images) == 1:
            out.setdefault(images[0].rsplit("/", 1)[-1], text)
    return out


def _png(name: str) -> bytes:
    with zipfile.ZipFile(IMAGE_ZIP) as archive:
        return archive.read(f"image_sft/images/{name}")


CALLS = """
from dashscope import MultiModalConversation
open('local_mug.png', 'wb').write(bytes.fromhex({png!r}))
def ask(image, model={model!r}, **kw):
    return MultiModalConversation.call(model=model, messages=[
        {{'role': 'system', 'content': [{{'text': 'You are a helpful assistant.'}}]}},
        {{'role': 'user', 'content': [{{'image': image}}, {{'text': 'What is in the picture?'}}]}}], **kw)
def plain(r):
    if r.status_code != 200:
        return [r.status_code, r.code, r.message]
    m = r.output.choices[0].message
    return [r.status_code, m['role'], m['content'], r.output.choices[0].finish_reason, dict(r.usage)]
def texts(stream):
    out = []
    for r in stream:
        assert r.status_code == 200, (r.code, r.message)
        c = r.output.choices[0]
        out.append([[p.get('text') for p in c.message['content']], c.finish_reason])
    return out
"""


def _calls(model: str) -> str:
    return CALLS.format(model=model, png=_png("mug_red.png").hex())


def test_multimodal_conversation_on_a_base_vl_model(sdk: Sdk) -> None:
    data_uri = "data:image/png;base64," + base64.b64encode(_png("tshirt_blue.png")).decode()
    result = sdk.python(
        _calls("qwen-vl-plus")
        + f"""
url = plain(ask('https://cdn.example.com/pics/dog.jpg', seed=3))
again = plain(ask('https://cdn.example.com/pics/dog.jpg', seed=3))
other = plain(ask('https://cdn.example.com/pics/cat.jpg', seed=3))
b64 = plain(ask({data_uri!r}))
local = plain(ask('file://local_mug.png'))
cumulative = texts(ask('https://cdn.example.com/pics/dog.jpg', seed=3, stream=True))
deltas = texts(ask('https://cdn.example.com/pics/dog.jpg', seed=3, stream=True, incremental_output=True))
unreachable = plain(ask('https://unreachable.example/dog.jpg'))
text_model = plain(ask('https://cdn.example.com/pics/dog.jpg', model='qwen-max'))
print(json.dumps(dict(url=url, again=again, other=other, b64=b64, local=local, cumulative=cumulative,
                      deltas=deltas, unreachable=unreachable, text_model=text_model)))
"""
    )
    status, role, content, finish, usage = result["url"]
    assert (status, role, finish) == (200, "assistant", "stop")
    assert isinstance(content, list) and list(content[0]) == ["text"] and content[0]["text"]
    assert usage["image_tokens"] > 0 and usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["input_tokens_details"]["image_tokens"] == usage["image_tokens"]
    assert result["again"] == result["url"] and result["other"][2] != content
    for key in ("b64", "local"):
        assert result[key][0] == 200 and result[key][2][0]["text"], result[key]
    answer = content[0]["text"]
    cumulative = result["cumulative"]
    assert cumulative[-1] == [[answer], "stop"] and all(f == "null" for _, f in cumulative[:-1])
    assert all(
        later[0][0].startswith(earlier[0][0]) for earlier, later in zip(cumulative, cumulative[1:], strict=False)
    )
    deltas = result["deltas"]
    # the last delta carries the last piece and the finish reason (recorded: cnblogs multimodal-generation-vl-sse)
    assert deltas[-1][1] == "stop" and "".join(t[0] for t, _ in deltas) == answer
    assert result["unreachable"] == [400, "InvalidParameter", "Failed to download multimodal content"]
    assert result["text_model"][:2] == [400, "InvalidParameter"] and "url error" in result["text_model"][2]


def test_the_local_file_upload_flow_stores_the_image(sdk: Sdk) -> None:
    """What the SDK does for ``file://`` by itself, step by step: policy, OSS form POST, ``oss://`` + header."""
    result = sdk.python(
        _calls("qwen-vl-max")
        + """
from dashscope.utils.oss_utils import OssUtils
got = OssUtils.upload(model='qwen-vl-max', file_path='local_mug.png')
url = got[0] if isinstance(got, tuple) else got
with_header = plain(ask(url, headers={'X-DashScope-OssResourceResolve': 'enable'}))
without = plain(ask(url))
again = OssUtils.get_upload_certificate(model='qwen-vl-max')
print(json.dumps(dict(url=url, with_header=with_header, without=without, policy=dict(again.output))))
"""
    )
    assert result["url"].startswith("oss://dashscope-instant/") and result["url"].endswith("/local_mug.png")
    assert result["with_header"][0] == 200
    if sdk.version == "1.20.11":  # passes oss:// through as is: without the header the key does not resolve
        assert result["without"] == [400, "InvalidParameter", "url error, please check url！"]
    else:  # 2.0.2 adds X-DashScope-OssResourceResolve itself for any oss:// value
        assert result["without"][0] == 200
    policy = result["policy"]
    assert policy["upload_host"].endswith("/_oss/dashscope-file-mgr") and policy["x_oss_forbid_overwrite"] == "true"


def test_the_2_0_2_client_multimodal_chat(sdk2: Sdk) -> None:
    result = sdk2.python(
        _calls("qwen-vl-plus")
        + """
import os
from dashscope import Client
client = Client(api_key=os.environ['DASHSCOPE_API_KEY'], base_url=os.environ['DASHSCOPE_HTTP_BASE_URL'])
msgs = [{'role': 'user', 'content': [{'type': 'image', 'image': 'file://local_mug.png'},
                                     {'type': 'text', 'text': 'What is in the picture?'}]}]
try:
    done = client.multimodal.chat.create(model='qwen-vl-plus', messages=msgs, seed=4)
except Exception as exc:
    raise SystemExit(repr(exc))
chunks = list(client.multimodal.chat.create(model='qwen-vl-plus', messages=msgs, seed=4, stream=True))
routed = client.chat.completions.create(model='qwen-vl-plus', messages=msgs, seed=4)
print(json.dumps(dict(text=done.choices[0].message.content, finish=done.choices[0].finish_reason,
                      streamed=''.join(c.choices[0].delta.content or '' for c in chunks if c.choices),
                      routed=routed.choices[0].message.content)))
"""
    )
    assert result["text"] and result["finish"] == "stop"
    assert result["streamed"] == result["text"] == result["routed"]


VL_KEY = "sk-contract-vl-fine-tune"


@pytest.fixture(scope="module")
def vl_model(live_server: EmulatorServer) -> str:
    """A RUNNING deployment of a qwen-vl-plus fine-tune of image_sft.zip (1.20.11's Files.upload only takes
    .jsonl, so the zip goes up over plain HTTP)."""
    with httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {VL_KEY}"}, timeout=60) as http:
        up = http.post("/api/v1/files", files=[("files", (IMAGE_ZIP.name, IMAGE_ZIP.read_bytes()))])
        file_id = up.json()["data"]["uploaded_files"][0]["file_id"]
        job = http.post("/api/v1/fine-tunes", json={"model": "qwen-vl-plus", "training_file_ids": [file_id]})
        job_id = job.json()["output"]["job_id"]
        for _ in range(60):
            status = http.get(f"/api/v1/fine-tunes/{job_id}").json()["output"]
            if status["status"] in ("SUCCEEDED", "FAILED"):
                break
            live_server.control("POST", "/_emulator/clock/advance", {"seconds": 600})
        assert status["status"] == "SUCCEEDED", status
        name = http.post("/api/v1/deployments", json={"model_name": status["finetuned_output"]}).json()
        deployed = name["output"]["deployed_model"]
        for _ in range(60):  # the session's clock runs fast: let it, and help it along
            if http.get(f"/api/v1/deployments/{deployed}").json()["output"]["status"] == "RUNNING":
                break
            live_server.control("POST", "/_emulator/clock/advance", {"seconds": 60})
        return str(deployed)


def test_a_deployed_vl_fine_tune_answers_from_its_training_images(sdk: Sdk, vl_model: str) -> None:
    rows = _train_rows()
    tshirt = "data:image/png;base64," + base64.b64encode(_png("tshirt_blue.png")).decode()
    caller = Sdk(sdk.version, sdk.server, api_key=VL_KEY)
    result = caller.python(
        _calls(vl_model)
        + f"""
by_url = plain(ask('https://cdn.example.com/any/where/sneaker_white.png'))
by_b64 = plain(ask({tshirt!r}))
by_file = plain(ask('file://local_mug.png'))
stream = texts(ask('https://cdn.example.com/sneaker_white.png', stream=True, incremental_output=True))
unknown = plain(ask('https://cdn.example.com/giraffe.png'))
print(json.dumps(dict(by_url=by_url, by_b64=by_b64, by_file=by_file, stream=stream, unknown=unknown)))
"""
    )
    assert result["by_url"][2] == [{"text": rows["sneaker_white.png"]}]
    assert result["by_b64"][2] == [{"text": rows["tshirt_blue.png"]}]
    assert result["by_file"][2] == [{"text": rows["mug_red.png"]}]
    assert "".join(t[0] for t, _ in result["stream"]) == rows["sneaker_white.png"]
    assert result["unknown"][0] == 200 and result["unknown"][2][0]["text"] not in rows.values()


def test_thinking_on_and_off(sdk: Sdk) -> None:
    result = sdk.python(
        """
from dashscope import Generation
msgs = [{'role': 'user', 'content': '天空为什么是蓝色的？'}]
def run(**kw):
    out = []
    for r in Generation.call(model='qwen-plus', messages=msgs, result_format='message', stream=True,
                             incremental_output=True, **kw):
        m = r.output.choices[0].message
        out.append(['reasoning_content' in m, m.get('reasoning_content') or '', m['content']])
    return out
off = run()
on = run(enable_thinking=True, thinking_budget=20)
plain = Generation.call(model='qwen-plus', messages=msgs, result_format='message', enable_thinking=True,
                        thinking_budget=20)
m = plain.output.choices[0].message
print(json.dumps(dict(off=off, on=on, plain=[m.get('reasoning_content'), m['content'], dict(plain.usage)])))
"""
    )
    assert not any(present for present, _, _ in result["off"])
    on = result["on"]
    assert all(present for present, _, _ in on)
    reasoning = "".join(r for _, r, _ in on)
    first_answer = next(i for i, (_, _, c) in enumerate(on) if c)
    assert reasoning and all(not c for _, _, c in on[:first_answer]) and all(not r for _, r, _ in on[first_answer:])
    reasoning_text, content, usage = result["plain"]
    assert reasoning_text and content and usage["output_tokens_details"]["reasoning_tokens"] <= 20


def test_the_openai_package_with_image_url_parts(live_server: EmulatorServer, vl_model: str) -> None:
    rows = _train_rows()
    mug = "data:image/png;base64," + base64.b64encode(_png("mug_red.png")).decode()

    def ask(url: str) -> list[ChatCompletionMessageParam]:
        return [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": url}},
                    {"type": "text", "text": "What is in the picture?"},
                ],
            }
        ]

    base = f"{live_server.url}/compatible-mode/v1"
    with openai.OpenAI(api_key=VL_KEY, base_url=base, max_retries=0) as client:
        plain = client.chat.completions.create(model="qwen-vl-max", messages=ask("https://cdn.example.com/a.jpg"))
        text = plain.choices[0].message.content
        assert text and plain.choices[0].finish_reason == "stop" and plain.usage and plain.usage.prompt_tokens > 256
        stream = client.chat.completions.create(
            model="qwen-vl-max", messages=ask("https://cdn.example.com/a.jpg"), stream=True
        )
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == text
        tuned = client.chat.completions.create(model=vl_model, messages=ask(mug))
        assert tuned.choices[0].message.content == rows["mug_red.png"]
        with pytest.raises(openai.BadRequestError) as unreachable:
            client.chat.completions.create(model="qwen-vl-max", messages=ask("https://unreachable.example/a.jpg"))
        assert unreachable.value.code == "invalid_parameter_error"
        assert "Failed to download multimodal content" in unreachable.value.message
        with pytest.raises(openai.BadRequestError) as text_only:
            client.chat.completions.create(model="qwen-plus", messages=ask("https://cdn.example.com/a.jpg"))
        assert "does not support image" in text_only.value.message


def test_the_openai_package_with_thinking_on_and_off(live_server: EmulatorServer) -> None:
    base = f"{live_server.url}/compatible-mode/v1"
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "为什么天空是蓝色的？"}]
    with openai.OpenAI(api_key=VL_KEY, base_url=base, max_retries=0) as client:
        off = client.chat.completions.create(model="qwen-plus", messages=messages)
        assert not hasattr(off.choices[0].message, "reasoning_content") or "reasoning_content" not in (
            off.choices[0].message.model_extra or {}
        )
        on = client.chat.completions.create(
            model="qwen-plus", messages=messages, extra_body={"enable_thinking": True, "thinking_budget": 30}
        )
        reasoning = (on.choices[0].message.model_extra or {}).get("reasoning_content")
        assert reasoning and on.choices[0].message.content
        chunks = list(
            client.chat.completions.create(
                model="qwen-plus", messages=messages, stream=True, extra_body={"enable_thinking": True}
            )
        )
        extras = [(c.choices[0].delta.model_extra or {}).get("reasoning_content") for c in chunks if c.choices]
        contents = [c.choices[0].delta.content for c in chunks if c.choices]
        first_answer = next(i for i, c in enumerate(contents) if c)
        assert "".join(e or "" for e in extras[:first_answer]) and not any(extras[first_answer:])


def test_the_2_0_2_cli_multimodal_and_tokenization(sdk2: Sdk) -> None:
    (sdk2.server.workdir / "cli_mug.png").write_bytes(_png("mug_red.png"))
    done = sdk2.cli(
        "multimodal-conversation",
        "create",
        "-m",
        "qwen-vl-plus",
        "-t",
        "What is it?",
        "--image",
        "cli_mug.png",
        "--image",
        "https://cdn.example.com/b.jpg",
    )
    output, usage = json_documents(done.stdout)
    assert output["choices"][0]["finish_reason"] == "stop" and output["choices"][0]["message"]["content"][0]["text"]
    assert usage["image_tokens"] == 512  # the local file went up through the upload policy, the URL as is
    tokens = sdk2.cli("tokenization", "create", "-m", "qwen-max", "-p", "代码改变世界")
    assert "token_ids" in tokens.stdout and "input_tokens" in tokens.stdout


def json_documents(text: str) -> list[Any]:
    """The JSON documents a CLI printed one after another."""
    decoder, out, at = json.JSONDecoder(), [], 0
    while (at := text.find("{", at)) != -1:
        value, at = decoder.raw_decode(text, at)
        out.append(value)
    return out


def test_tokenization_call(sdk: Sdk) -> None:
    result = sdk.python(
        """
from dashscope import Tokenization
r = Tokenization.call(model='qwen-plus', messages=[{'role': 'user', 'content': '代码改变世界'}])
print(json.dumps([r.status_code, r.output['tokens'], r.usage['input_tokens']]))
"""
    )
    assert result == [200, ["代", "码", "改", "变", "世", "界"], 6]


def test_the_2_0_2_async_multimodal_conversation(sdk2: Sdk) -> None:
    result = sdk2.python(
        """
import asyncio
from dashscope import AioMultiModalConversation
msgs = [{'role': 'user', 'content': [{'image': 'https://cdn.example.com/a.jpg'}, {'text': 'What is it?'}]}]
async def main():
    plain = await AioMultiModalConversation.call(model='qwen-vl-plus', messages=msgs, seed=9)
    stream = await AioMultiModalConversation.call(model='qwen-vl-plus', messages=msgs, seed=9, stream=True,
                                                  incremental_output=True)
    parts = [r.output.choices[0].message['content'] async for r in stream]
    return [plain.output.choices[0].message['content'][0]['text'], ''.join(p[0]['text'] for p in parts if p)]
print(json.dumps(asyncio.run(main())))
"""
    )
    assert result[0] and result[0] == result[1]
