"""A continued pre-training (cpt) job through the real SDKs: upload {"text": ...} rows, ``FineTunes.call(...,
mode='cpt')``, follow it to SUCCEEDED, and see the wrong kind of file refused (reference 2026 §3)."""

from __future__ import annotations

from tests.conftest import DATASETS
from tests.contract.conftest import Sdk
from tests.contract.test_deployments import with_advance
from tests.deployments.flows import SFT

CPT = DATASETS / "cpt_basic.jsonl"


def test_cpt_job_to_succeeded(sdk: Sdk) -> None:
    result = sdk.python(
        with_advance(f"""
        from dashscope import Files, FineTunes
        def upload(path):
            return Files.upload(file_path=path, purpose='fine_tune').output['uploaded_files'][0]['file_id']
        cpt, sft = upload({str(CPT)!r}), upload({str(SFT)!r})
        created = FineTunes.call(model='qwen3-0.6b', training_file_ids=[cpt], mode='cpt',
                                 hyper_parameters={{'n_epochs': 2}})
        job_id = created.output['job_id']
        for _ in range(60):
            job = FineTunes.get(job_id).output
            if job['status'] in ('SUCCEEDED', 'FAILED'):
                break
            advance(600)
        logs = FineTunes.logs(job_id, offset=1, line=1000).output['logs']
        wrong = FineTunes.call(model='qwen3-0.6b', training_file_ids=[sft], mode='cpt')
        print(json.dumps({{"status": job['status'], "type": job['training_type'], "output": job['finetuned_output'],
                          "cpt_logged": any('continued pre-training' in line for line in logs),
                          "wrong": [wrong.status_code, wrong.code, wrong.message]}}))
    """),
        EMULATOR_CONTROL_URL=sdk.server.url,
    )
    assert (result["status"], result["type"], result["cpt_logged"]) == ("SUCCEEDED", "cpt", True)
    assert result["output"].startswith("qwen3-0.6b-ft-")
    status, code, message = result["wrong"]
    assert (status, code) == (400, "InvalidParameter") and "training_type cpt needs CPT rows" in message
