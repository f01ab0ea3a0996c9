"""The pytest plugin points every client here and refuses the real DashScope hosts (through pytester).

One inner session per case: the refusal through urllib, socket, httpx (sync and async) and the openai package, the
error naming the test and the host, a swallowed refusal still failing the test, and the three ways to allow it.
"""

from __future__ import annotations

import socket

import pytest

from emulator.testing import REAL_HOSTS, RealHostRefused, is_real_host, refuse_real_hosts

pytest_plugins = ["pytester"]

GUARDED = """
import asyncio
import os
import socket
import urllib.error
import urllib.request

import httpx
import pytest
from openai import OpenAI

HOST = "dashscope.aliyuncs.com"


def test_openai_env_points_here(dashscope_emulator):
    assert os.environ["OPENAI_BASE_URL"] == dashscope_emulator.openai_base
    assert dashscope_emulator.openai_base == dashscope_emulator.url + "/compatible-mode/v1"
    assert os.environ["OPENAI_API_KEY"] == os.environ["DASHSCOPE_API_KEY"] == dashscope_emulator.api_key
    answer = OpenAI().chat.completions.create(model="qwen-turbo", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content
    assert dashscope_emulator.requests(path="/compatible-mode/v1/chat/completions")[0]["status"] == 200


def test_urllib_is_refused(dashscope_emulator, dashscope_emulator_refused):
    with pytest.raises(urllib.error.URLError) as caught:
        urllib.request.urlopen(f"https://{HOST}/api/v1/files", timeout=5)
    message = str(caught.value.reason)
    assert "test_guarded.py::test_urllib_is_refused tried to reach dashscope.aliyuncs.com" in message
    assert dashscope_emulator.api_base in message and "dashscope_real_hosts" in message
    assert dashscope_emulator_refused == [HOST]


def test_socket_and_every_regional_host(dashscope_emulator, dashscope_emulator_refused):
    for host in ("dashscope-intl.aliyuncs.com", "cn-hongkong.dashscope.aliyuncs.com", "DashScope.AliyunCS.com.",
                 "ws-1.cn-hangzhou.maas.aliyuncs.com", "dashscope-file-mgr.oss-cn-beijing.aliyuncs.com"):
        with pytest.raises(ConnectionRefusedError, match="the real DashScope"):
            socket.create_connection((host, 443), timeout=5)
    assert socket.getaddrinfo("127.0.0.1", 80)  # anything else resolves as before
    assert len(dashscope_emulator_refused) == 5


def test_httpx_sync_and_async(dashscope_emulator, dashscope_emulator_refused):
    with pytest.raises(httpx.ConnectError, match="tried to reach dashscope-intl.aliyuncs.com"):
        httpx.get("https://dashscope-intl.aliyuncs.com/compatible-mode/v1/models")

    async def fetch():
        async with httpx.AsyncClient() as client:
            await client.get(f"https://{HOST}/api/v1/files")

    with pytest.raises(httpx.ConnectError, match=f"tried to reach {HOST}"):
        asyncio.run(fetch())


def test_an_openai_client_with_a_hard_coded_url(dashscope_emulator, dashscope_emulator_refused):
    client = OpenAI(base_url=f"https://{HOST}/compatible-mode/v1", max_retries=0)
    with pytest.raises(Exception) as caught:
        client.models.list()
    assert "tried to reach dashscope.aliyuncs.com" in repr(caught.value.__cause__ or caught.value.__context__)


def test_an_app_that_swallows_the_error(dashscope_emulator):
    try:
        urllib.request.urlopen(f"https://{HOST}/api/v1/files", timeout=5)
    except Exception:
        pass  # the app hides it: the fixture still fails the test


@pytest.mark.dashscope_real_hosts
def test_the_marker_allows_them(dashscope_emulator):
    assert socket.getaddrinfo.__module__ == "socket"


def test_without_the_fixture_nothing_is_patched():
    assert socket.getaddrinfo.__module__ == "socket"
"""


@pytest.mark.live
def test_the_fixture_refuses_the_real_hosts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_guarded=GUARDED)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=8, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_an_app_that_swallows_the_error*",
            "*test_guarded.py::test_an_app_that_swallows_the_error tried to reach dashscope.aliyuncs.com, the real "
            "DashScope*",
        ]
    )


ALLOWED = """
import socket


def test_not_patched(dashscope_emulator):
    assert socket.getaddrinfo.__module__ == "socket"
"""


@pytest.mark.live
@pytest.mark.parametrize("how", ["flag", "ini"])
def test_the_option_allows_them(pytester: pytest.Pytester, how: str) -> None:
    pytester.makepyfile(test_allowed=ALLOWED)
    args = ["-p", "no:cacheprovider", "-q"]
    if how == "flag":
        args.append("--dashscope-emulator-allow-real-hosts")
    else:
        pytester.makeini("[pytest]\ndashscope_emulator_allow_real_hosts = true\n")
    pytester.runpytest_inprocess(*args).assert_outcomes(passed=1)


def test_the_option_and_marker_are_documented(pytester: pytest.Pytester) -> None:
    pytester.runpytest_inprocess("--help").stdout.fnmatch_lines(
        ["*--dashscope-emulator-allow-real-hosts*", "*dashscope_emulator_allow_real_hosts*"]
    )
    pytester.runpytest_inprocess("--markers").stdout.fnmatch_lines(["*dashscope_real_hosts*"])


@pytest.mark.parametrize(
    ("host", "real"),
    [
        ("dashscope.aliyuncs.com", True),
        ("dashscope-intl.aliyuncs.com", True),
        ("dashscope-us.aliyuncs.com", True),
        ("cn-hongkong.dashscope.aliyuncs.com", True),
        ("ws-xxx123.ap-southeast-1.maas.aliyuncs.com", True),
        ("dashscope-file-mgr.oss-cn-beijing.aliyuncs.com", True),
        ("dashscope-instant.oss-accelerate.aliyuncs.com", True),
        (b"dashscope.aliyuncs.com", True),
        ("DASHSCOPE.ALIYUNCS.COM.", True),
        ("my-bucket.oss-cn-hangzhou.aliyuncs.com", False),  # the user's own OSS: not the service
        ("ecs.aliyuncs.com", False),
        ("dashscope.aliyuncs.com.evil.example", False),
        ("127.0.0.1", False),
        ("localhost", False),
        (None, False),
    ],
)
def test_which_hosts_are_real(host: object, real: bool) -> None:
    assert is_real_host(host) is real


def test_the_guard_restores_the_resolver_and_lists_what_it_refused() -> None:
    originals = (socket.getaddrinfo, socket.gethostbyname, socket.gethostbyname_ex)
    with refuse_real_hosts(lambda host: f"no {host}") as refused:
        with pytest.raises(RealHostRefused, match="no dashscope.aliyuncs.com"):
            socket.gethostbyname("dashscope.aliyuncs.com")
        with pytest.raises(RealHostRefused):
            socket.gethostbyname_ex("dashscope-intl.aliyuncs.com")
        assert socket.gethostbyname("127.0.0.1") == "127.0.0.1"
    assert refused == ["dashscope.aliyuncs.com", "dashscope-intl.aliyuncs.com"]
    assert (socket.getaddrinfo, socket.gethostbyname, socket.gethostbyname_ex) == originals
    assert len(REAL_HOSTS) == 5
