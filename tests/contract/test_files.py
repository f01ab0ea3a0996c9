"""Files through the real SDKs and CLIs: upload, list, get, delete."""

from __future__ import annotations

import re

from tests.conftest import DATASETS
from tests.contract.conftest import Sdk

SFT = DATASETS / "sft_basic.jsonl"


def test_sdk_upload_list_get_delete(sdk: Sdk) -> None:
    result = sdk.python(f"""
        up = dashscope.Files.upload(file_path={str(SFT)!r}, purpose='fine_tune', description='training dataset')
        assert up.status_code == 200, up
        file_id = up.output['uploaded_files'][0]['file_id']
        got = dashscope.Files.get(file_id)
        listed = dashscope.Files.list(page=1, page_size=10)
        deleted = dashscope.Files.delete(file_id)
        gone = dashscope.Files.get(file_id)
        print(json.dumps({{"file_id": file_id, "get": [got.status_code, got.output['name'], got.output['description']],
                          "list": [listed.status_code, [f['file_id'] for f in listed.output['files']]],
                          "delete": deleted.status_code, "gone": [gone.status_code, gone.code, gone.message]}}))
    """)
    assert result["get"] == [200, "sft_basic.jsonl", "training dataset"]
    assert result["list"] == [200, [result["file_id"]]]
    assert result["delete"] == 200
    assert result["gone"] == [400, "InvalidParameter", "File not found."]


def test_sdk_reports_auth_errors(sdk: Sdk) -> None:
    result = sdk.python("""
        r = dashscope.Files.list(api_key='bad key with spaces')
        print(json.dumps([r.status_code, r.code, r.message]))
    """)
    assert result == [401, "InvalidApiKey", "Invalid API-key provided."]


def test_cli_1_20_11_seed_commands(sdk1: Sdk) -> None:
    up = sdk1.cli("files.upload", "-f", str(SFT), "-p", "fine_tune", "-d", "training dataset")
    match = re.search(r"Upload success, file id: ([0-9a-f-]{36})", up.stdout)
    assert match, up.stdout
    file_id = match.group(1)
    got = sdk1.cli("files.get", "-i", file_id)
    assert file_id in got.stdout and "sft_basic.jsonl" in got.stdout
    listed = sdk1.cli("files.list")
    assert file_id in listed.stdout
    sdk1.cli("files.delete", "-i", file_id)
    assert file_id not in sdk1.cli("files.list").stdout


def test_cli_2_0_2_commands(sdk2: Sdk) -> None:
    up = sdk2.cli("files", "upload", "-f", str(SFT), "-d", "training dataset")
    match = re.search(r"Upload success, file id: ([0-9a-f-]{36})", up.stdout)
    assert match, up.stdout
    file_id = match.group(1)
    assert file_id in sdk2.cli("files", "get", file_id).stdout
    assert file_id in sdk2.cli("files", "list", "-p", "1", "-s", "5").stdout
    sdk2.cli("files", "delete", file_id)
    gone = sdk2.cli("files", "get", file_id, check=False)
    assert gone.returncode != 0
    assert "File not found" in gone.stdout + gone.stderr
    # the legacy dotted form is rewritten by the 2.0.2 CLI
    legacy = sdk2.cli("files.upload", "-f", str(SFT), "-p", "fine_tune", "-d", "legacy form")
    assert "Upload success, file id:" in legacy.stdout
