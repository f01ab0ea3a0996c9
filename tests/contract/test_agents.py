"""Agent and structured-output libraries, unmodified, in their own venv (``.venv-clients/agents``, from
``locks/clients/agents.in``), against a live server with no response rule: what they need from structured output,
the tool policy, logprobs and the Responses API."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.testing import EmulatorServer
from tests.contract.conftest import require_venv
from tests.contract.test_other_clients import CLIENT_VENVS, Client

PRELUDE = """
import json, os
BASE = os.environ["DASHSCOPE_COMPATIBLE_BASE_URL"]
KEY = os.environ["DASHSCOPE_API_KEY"]
"""
TOOL_RESULT = "sunny, 24 degrees"


@pytest.fixture
def agents(request: pytest.FixtureRequest, live_server: EmulatorServer) -> Iterator[Client]:
    require_venv(CLIENT_VENVS / "agents", "make test")
    yield Client("agents", live_server, api_key=f"sk-contract-agents-{request.node.name}")


def run(client: Client, code: str) -> Any:
    return client.run(PRELUDE + textwrap.dedent(code))


def test_instructor_tools_json_and_json_schema(agents: Client) -> None:
    result = run(
        agents,
        """
        import instructor
        from openai import OpenAI
        from pydantic import BaseModel

        class City(BaseModel):
            name: str
            population: int
            famous_for: list[str]

        out = {}
        for mode in ("TOOLS", "JSON", "JSON_SCHEMA"):
            client = instructor.from_openai(OpenAI(base_url=BASE, api_key=KEY), mode=getattr(instructor.Mode, mode))
            city = client.chat.completions.create(
                model="qwen-plus", response_model=City, max_retries=0,
                messages=[{"role": "user", "content": "Tell me about Hangzhou."}],
            )
            out[mode] = city.model_dump()
        print(json.dumps(out))
    """,
    )
    assert set(result) == {"TOOLS", "JSON", "JSON_SCHEMA"}
    for city in result.values():
        assert isinstance(city["name"], str) and isinstance(city["population"], int)
    tools, json_mode = (agents.journal("/compatible-mode/v1/chat/completions")[i]["body"] for i in (0, 1))
    assert tools["tool_choice"]["function"]["name"] == "City" and json_mode["response_format"] == {
        "type": "json_object"
    }


def test_langchain_with_structured_output(agents: Client) -> None:
    result = run(
        agents,
        """
        from langchain_openai import ChatOpenAI
        from pydantic import BaseModel

        class Weather(BaseModel):
            city: str
            celsius: float

        llm = ChatOpenAI(model="qwen-plus", base_url=BASE, api_key=KEY, max_retries=0)
        out = {m: llm.with_structured_output(Weather, method=m).invoke("Weather in Hangzhou?").model_dump()
               for m in ("json_schema", "function_calling")}
        print(json.dumps(out))
    """,
    )
    for weather in result.values():
        assert isinstance(weather["city"], str) and isinstance(weather["celsius"], float)
    bodies = [c["body"] for c in agents.journal("/compatible-mode/v1/chat/completions")]
    assert bodies[0]["response_format"]["type"] == "json_schema" and "tools" in bodies[1]


def test_openai_response_format_and_its_400(agents: Client) -> None:
    result = run(
        agents,
        """
        import openai
        from openai import OpenAI

        client = OpenAI(base_url=BASE, api_key=KEY, max_retries=0)
        schema = {"type": "object", "properties": {"city": {"type": "string"}, "rank": {"type": "integer"}},
                  "required": ["city", "rank"], "additionalProperties": False}
        strict = client.chat.completions.create(
            model="qwen-plus", messages=[{"role": "user", "content": "Best city to visit?"}],
            response_format={"type": "json_schema", "json_schema": {"name": "pick", "strict": True, "schema": schema}})
        loose = client.chat.completions.create(
            model="qwen-plus", messages=[{"role": "user", "content": "Answer in JSON: best city to visit?"}],
            response_format={"type": "json_object"})
        streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model="qwen-plus", messages=[{"role": "user", "content": "JSON please: best city?"}],
            response_format={"type": "json_object"}, stream=True) if c.choices)
        try:
            client.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": "Best city?"}],
                                           response_format={"type": "json_object"})
            refused = None
        except openai.BadRequestError as exc:
            refused = [exc.status_code, exc.message]
        print(json.dumps({"strict": json.loads(strict.choices[0].message.content),
                          "loose": json.loads(loose.choices[0].message.content),
                          "streamed": json.loads(streamed), "refused": refused}))
    """,
    )
    assert set(result["strict"]) == {"city", "rank"} and isinstance(result["strict"]["rank"], int)
    assert isinstance(result["loose"], dict) and isinstance(result["streamed"], dict)
    assert result["refused"][0] == 400 and "must contain the word 'json'" in result["refused"][1]


def test_pydantic_ai_tool_loop(agents: Client) -> None:
    result = run(
        agents,
        f"""
        from pydantic_ai import Agent
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        model = OpenAIChatModel("qwen-plus", provider=OpenAIProvider(base_url=BASE, api_key=KEY))
        agent = Agent(model)

        @agent.tool_plain
        def get_weather(city: str) -> str:
            \"\"\"The current weather in a city.\"\"\"
            return {TOOL_RESULT!r} if city else "unknown"

        print(json.dumps({{"output": agent.run_sync("What is the weather in Hangzhou?").output}}))
    """,
    )
    assert TOOL_RESULT in result["output"]


def test_langgraph_react_agent_tool_loop(agents: Client) -> None:
    result = run(
        agents,
        f"""
        from langchain_core.tools import tool
        from langchain_openai import ChatOpenAI
        from langgraph.prebuilt import create_react_agent

        @tool
        def get_weather(city: str) -> str:
            \"\"\"The current weather in a city.\"\"\"
            return {TOOL_RESULT!r}

        agent = create_react_agent(ChatOpenAI(model="qwen-plus", base_url=BASE, api_key=KEY), [get_weather])
        state = agent.invoke({{"messages": [("user", "What is the weather in Hangzhou?")]}})
        print(json.dumps({{"final": state["messages"][-1].content, "kinds": [m.type for m in state["messages"]]}}))
    """,
    )
    assert result["kinds"] == ["human", "ai", "tool", "ai"] and TOOL_RESULT in result["final"]


@pytest.mark.parametrize("transport", ["chat_completions", "responses"])
def test_openai_agents_tool_loop(agents: Client, transport: str) -> None:
    result = run(
        agents,
        f"""
        from openai import AsyncOpenAI
        from agents import (Agent, OpenAIChatCompletionsModel, Runner, function_tool, set_default_openai_client,
                            set_tracing_disabled)

        set_tracing_disabled(True)
        client = AsyncOpenAI(base_url=BASE, api_key=KEY, max_retries=0)

        @function_tool
        def get_weather(city: str) -> str:
            \"\"\"The current weather in a city.\"\"\"
            return {TOOL_RESULT!r}

        if {transport!r} == "chat_completions":
            model = OpenAIChatCompletionsModel(model="qwen-plus", openai_client=client)
        else:
            set_default_openai_client(client, use_for_tracing=False)
            model = "qwen-plus"  # the default transport: the Responses API
        agent = Agent(name="weather", instructions="Use your tools.", tools=[get_weather], model=model)
        print(json.dumps({{"final": Runner.run_sync(agent, "What is the weather in Hangzhou?").final_output}}))
    """,
    )
    assert TOOL_RESULT in result["final"]
    path = "/compatible-mode/v1/" + ("chat/completions" if transport == "chat_completions" else "responses")
    assert len(agents.journal(path)) == 2


def test_openai_responses_routes(agents: Client) -> None:
    result = run(
        agents,
        """
        from openai import OpenAI

        client = OpenAI(base_url=BASE, api_key=KEY, max_retries=0)
        plain = client.responses.create(model="qwen-plus", input="Tell me about West Lake.", instructions="Be brief")
        events = [e.type for e in client.responses.create(model="qwen-plus", input="And Lingyin Temple?",
                                                          previous_response_id=plain.id, stream=True)]
        with client.responses.stream(model="qwen-plus", input="Hello!") as stream:
            final = stream.get_final_response()
        tool = {"type": "function", "name": "get_weather", "description": "Weather of a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
        called = client.responses.create(model="qwen-plus", input="Weather in Hangzhou?", tools=[tool])
        call = called.output[0]
        answered = client.responses.create(
            model="qwen-plus", previous_response_id=called.id, tools=[tool],
            input=[{"type": "function_call_output", "call_id": call.call_id, "output": "31 degrees"}])
        again = client.responses.retrieve(answered.id)
        items = [i.type for i in client.responses.input_items.list(answered.id, order="asc")]
        client.responses.delete(plain.id)
        try:
            client.responses.retrieve(plain.id)
            gone = False
        except Exception as exc:
            gone = getattr(exc, "status_code", None) == 404
        print(json.dumps({"plain": plain.output_text, "events": events, "final": final.output_text,
                          "call": [call.type, call.name, json.loads(call.arguments)], "answered": answered.output_text,
                          "again": again.output_text, "items": items, "gone": gone}))
    """,
    )
    assert result["plain"] and result["final"]
    assert result["events"][0] == "response.created" and result["events"][-1] == "response.completed"
    assert result["call"] == ["function_call", "get_weather", {"city": "Hangzhou"}]
    assert "31 degrees" in result["answered"] and result["again"] == result["answered"]
    assert result["items"] == ["message", "function_call", "function_call_output"] and result["gone"]


def test_logprobs_in_both_protocols(agents: Client) -> None:
    result = run(
        agents,
        """
        import urllib.request
        from openai import OpenAI

        client = OpenAI(base_url=BASE, api_key=KEY, max_retries=0)
        messages = [{"role": "user", "content": "Tell me about tides"}]
        plain = client.chat.completions.create(model="qwen-plus", messages=messages, logprobs=True, top_logprobs=2)
        streamed = [t.token for c in client.chat.completions.create(
            model="qwen-plus", messages=messages, logprobs=True, top_logprobs=2, stream=True)
            if c.choices and c.choices[0].logprobs for t in c.choices[0].logprobs.content]
        native_base = BASE.replace("/compatible-mode/v1", "/api/v1")
        body = {"model": "qwen-plus", "input": {"messages": messages},
                "parameters": {"result_format": "message", "logprobs": True, "top_logprobs": 2}}
        request = urllib.request.Request(native_base + "/services/aigc/text-generation/generation",
                                         data=json.dumps(body).encode(),
                                         headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
        native = json.loads(urllib.request.urlopen(request).read())["output"]["choices"][0]
        print(json.dumps({"text": plain.choices[0].message.content,
                          "tokens": [t.token for t in plain.choices[0].logprobs.content],
                          "tops": [len(t.top_logprobs) for t in plain.choices[0].logprobs.content],
                          "streamed": streamed,
                          "native": ["".join(e["token"] for e in native["logprobs"]["content"]),
                                     native["message"]["content"]]}))
    """,
    )
    assert "".join(result["tokens"]) == result["text"] and result["streamed"] == result["tokens"]
    assert set(result["tops"]) == {2} and result["native"][0] == result["native"][1]


SEEDED = """
from openai import OpenAI

client = OpenAI(base_url=BASE, api_key=KEY, max_retries=0)
schema = {"type": "object", "properties": {"city": {"type": "string"}, "score": {"type": "number"}},
          "required": ["city", "score"], "additionalProperties": False}
tool = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]}}}
messages = [{"role": "user", "content": "Weather in Hangzhou for the week?"}]
out = [
    client.chat.completions.create(model="qwen-plus", messages=messages, response_format={
        "type": "json_schema", "json_schema": {"name": "s", "schema": schema}}).model_dump(),
    client.chat.completions.create(model="qwen-plus", messages=messages, tools=[tool]).model_dump(),
    client.chat.completions.create(model="qwen-plus", messages=messages, logprobs=True, top_logprobs=3).model_dump(),
    client.responses.create(model="qwen-plus", input="Hello", instructions="Be brief").model_dump(),
]
print(json.dumps(out, sort_keys=True))
"""


def test_seeded_servers_answer_the_same(agents: Client) -> None:
    """With --seed, two fresh servers give byte-identical answers (ids, JSON, tool calls, logprobs, responses)."""
    answers = []
    for _ in range(2):
        with EmulatorServer(seed=7) as server:
            answers.append(Client("agents", server, api_key="sk-contract-agents-seeded").run(PRELUDE + SEEDED))
    assert answers[0] == answers[1]
    assert answers[0][1]["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
