"""The file answers are built as plain dicts (no model per file): they must stay exactly the models' dumps."""

from __future__ import annotations

import pytest

from emulator.files.schemas import FileListData, FileObject
from tests.conftest import DATASETS, AppFactory, client_for, upload

pytestmark = pytest.mark.anyio


async def test_a_page_and_a_file_are_their_models_dumped_field_for_field(app_factory: AppFactory) -> None:
    app = await app_factory()
    async with client_for(app) as client:
        for name in ("sft_basic.jsonl", "dpo_basic.jsonl"):
            assert (await upload(client, DATASETS / name)).status_code == 200
        page = (await client.get("/api/v1/files")).json()["data"]
        assert page["total"] == 2
        dumped = FileListData.model_validate(page).model_dump()
        assert page == dumped
        assert list(page) == list(dumped)
        one = (await client.get(f"/api/v1/files/{page['files'][0]['file_id']}")).json()["data"]
        assert list(one) == list(FileObject.model_fields) == list(page["files"][0])
        assert one == FileObject.model_validate(one).model_dump()
