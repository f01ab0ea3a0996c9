"""Third-party clients, unmodified, each in a pinned venv of its own (``make test`` builds ``.venv-clients/``),
pointed at a live server by the variables ``emulator.testing.CLIENT_ENV`` lists and nothing else.

Each client asks the same question plain and streaming; what it hands back must be the emulator's own answer to
the request the journal recorded (replayed here without the stream switch), so a client that loses, repeats or
reorders pieces of a stream, or talks to anything but the emulator, fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from emulator.testing import CLIENT_ENV, EmulatorServer
from tests.contract.conftest import CLI_TIMEOUT, CLIENT_VENVS, require_venv

NATIVE = "/api/v1/services/aigc/text-generation/generation"
COMPATIBLE = "/compatible-mode/v1/chat/completions"
QUESTION = "用一句话介绍杭州。"


@dataclass
class Client:
    name: str
    server: EmulatorServer
    api_key: str

    @property
    def venv(self) -> Path:
        return CLIENT_VENVS / self.name

    def env(self) -> dict[str, str]:
        """The machine's environment without any DashScope or OpenAI setting, then the emulator's variables."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHSCOPE_", "OPENAI_", "LITELLM_"))}
        env.update(self.server.client_env())
        env.update(DASHSCOPE_API_KEY=self.api_key, PYTHONUNBUFFERED="1", LITELLM_LOCAL_MODEL_COST_MAP="True")
        return env

    def run(self, code: str) -> Any:
        """Run a snippet in this client's venv; whatever it prints last as JSON comes back."""
        done = subprocess.run(
            [str(self.venv / "bin" / "python"), "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            env=self.env(),
            cwd=self.server.workdir,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, f"{self.name} snippet failed:\n{done.stdout}\n{done.stderr}"
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        return json.loads(lines[-1])

    def journal(self, path: str) -> list[dict[str, Any]]:
        """This client's requests to ``path``, oldest first."""
        return list(reversed(self.server.requests(method="POST", path=path, tenant=self.api_key)))

    def replay(self, path: str, body: dict[str, Any]) -> str:
        """The emulator's text for ``body`` asked without streaming, straight over HTTP."""
        if path == NATIVE:
            quiet = {**body, "parameters": {**body.get("parameters", {}), "incremental_output": False}}
            output = self.server.api("POST", path, quiet, api_key=self.api_key)["output"]
            return str(output["choices"][0]["message"]["content"] if output.get("choices") else output["text"])
        quiet = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
        return str(self.server.api("POST", path, quiet, api_key=self.api_key)["choices"][0]["message"]["content"])


@pytest.fixture
def client(request: pytest.FixtureRequest, live_server: EmulatorServer) -> Iterator[Client]:
    name = request.param
    require_venv(CLIENT_VENVS / name, "make test")
    yield Client(name, live_server, api_key=f"sk-contract-{name}-{request.node.name}")


def _check(client: Client, path: str, answers: dict[str, Any]) -> None:
    calls = client.journal(path)
    assert len(calls) == 2, f"expected one plain and one streaming call to {path}, the journal has {calls}"
    assert all(c["status"] == 200 for c in calls)
    plain, streamed = calls
    assert answers["plain"] and answers["plain"] == client.replay(path, plain["body"])
    assert answers["stream"] == client.replay(path, streamed["body"])
    assert answers["chunks"] > 1, "the streaming answer came in one piece: it was not streamed"


@pytest.mark.parametrize("client", ["langchain"], indirect=True)
def test_langchain_chat_tongyi_plain_and_streaming(client: Client) -> None:
    answers = client.run(f"""
        import json
        from langchain_community.chat_models.tongyi import ChatTongyi

        # the key from DASHSCOPE_API_KEY, the URL from DASHSCOPE_HTTP_BASE_URL (the dashscope SDK's)
        plain = ChatTongyi(model="qwen-plus").invoke({QUESTION!r}).content
        # streaming=True: ChatTongyi's validator marks `streaming` as set, and langchain-core 1.8 then takes the
        # default False as an opt-out, so .stream() quietly makes one plain call
        chunks = [c.content for c in ChatTongyi(model="qwen-plus", streaming=True).stream({QUESTION!r})]
        print(json.dumps({{"plain": plain, "stream": "".join(chunks), "chunks": len([c for c in chunks if c])}}))
    """)
    _check(client, NATIVE, answers)
    body = client.journal(NATIVE)[1]["body"]
    assert body["model"] == "qwen-plus" and body["parameters"]["incremental_output"] is True


@pytest.mark.parametrize("client", ["litellm"], indirect=True)
def test_litellm_dashscope_provider_plain_and_streaming(client: Client) -> None:
    answers = client.run(f"""
        import json
        import litellm

        messages = [{{"role": "user", "content": {QUESTION!r}}}]
        plain = litellm.completion(model="dashscope/qwen-plus", messages=messages)  # URL from DASHSCOPE_API_BASE
        chunks = [c.choices[0].delta.content or "" for c in litellm.completion(
            model="dashscope/qwen-plus", messages=messages, stream=True)]
        print(json.dumps({{"plain": plain.choices[0].message.content, "stream": "".join(chunks),
                          "chunks": len([c for c in chunks if c])}}))
    """)
    _check(client, COMPATIBLE, answers)
    assert client.journal(COMPATIBLE)[1]["body"]["stream"] is True


def test_every_client_variable_is_a_base_the_server_answers(live_server: EmulatorServer) -> None:
    """The variables the clients read point at paths this server serves, natively or OpenAI-style."""
    env = live_server.client_env()
    assert set(CLIENT_ENV) < set(env)
    for name, kind in CLIENT_ENV.items():
        suffix = {"native": "/api/v1", "compatible": "/compatible-mode/v1"}[kind]
        assert env[name] == live_server.url + suffix
    models = live_server.api("GET", env["DASHSCOPE_API_BASE"].removeprefix(live_server.url) + "/models")
    assert any(m["id"] == "qwen-plus" for m in models["data"])
