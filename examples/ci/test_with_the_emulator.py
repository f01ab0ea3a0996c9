"""A test of your project against the emulator (the pytest recipes run it): the fixture starts the emulator once per
session, resets it before each test, and sets DASHSCOPE_HTTP_BASE_URL / DASHSCOPE_API_KEY for the SDK."""

import json
import os
import urllib.request


def test_upload_list_and_journal(dashscope_emulator):
    # your code calls the service as usual (dashscope.Files.list(), an OpenAI client, ...); stdlib here
    url = os.environ["DASHSCOPE_HTTP_BASE_URL"] + "/files"
    request = urllib.request.Request(url, headers={"Authorization": "Bearer " + os.environ["DASHSCOPE_API_KEY"]})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.loads(answer.read())["request_id"]
    # and the fixture lets the test see and steer the service
    assert dashscope_emulator.requests(method="GET", path="/api/v1/files")
