"""The built wheel, not the checkout: ``make dist`` builds it, a clean venv in a folder outside the clone installs it
(``--no-deps``, on top of the locked runtime dependencies and pytest of ``locks/plugin.txt``), and from there
``dashscope-emulator serve`` answers and a project's pytest file uses the plugin's fixture. A package data file
(catalog, templates, static files, schema.sql) missing from the wheel fails here.
"""

from __future__ import annotations

import json
import re
import tarfile
import textwrap
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.packaging.conftest import ROOT, UV, get, locked_venv, run, serving, wheel

PACKAGE = ROOT / "emulator"

pytestmark = [pytest.mark.slow, pytest.mark.live]


def package_data() -> set[str]:
    """Every file of the package that is not Python source: what the wheel must carry."""
    return {
        str(p.relative_to(ROOT))
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix not in {".py", ".pyc"} and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean venv outside the clone with the wheel and the locked runtime dependencies only."""
    venv = locked_venv(tmp_path_factory.mktemp("project"))
    run([str(UV), "pip", "install", "--quiet", "--no-deps", "--python", str(venv / "bin" / "python"), str(wheel(dist))])
    return venv


def test_the_wheel_and_the_sdist_carry_every_package_data_file(dist: Path) -> None:
    expected = package_data()
    assert {"emulator/schema.sql", "emulator/catalog/models.json"} <= expected
    assert any(p.startswith("emulator/dashboard/templates/") for p in expected)
    assert any(p.startswith("emulator/dashboard/static/") for p in expected)
    in_wheel = set(zipfile.ZipFile(wheel(dist)).namelist())
    assert expected <= in_wheel, f"missing from the wheel: {sorted(expected - in_wheel)}"
    entry_points = (
        zipfile.ZipFile(wheel(dist)).read(next(n for n in in_wheel if n.endswith("entry_points.txt"))).decode()
    )
    assert "dashscope-emulator = emulator.__main__:main" in entry_points
    assert "dashscope_emulator = emulator.pytest_plugin" in entry_points
    (sdist,) = dist.glob("dashscope_emulator-*.tar.gz")
    with tarfile.open(sdist) as tar:
        in_sdist = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    assert expected <= in_sdist, f"missing from the sdist: {sorted(expected - in_sdist)}"


def test_the_installed_package_is_the_wheel_not_the_checkout(venv: Path) -> None:
    where = venv.parent
    done = run([str(venv / "bin" / "python"), "-c", "import emulator; print(emulator.__file__)"], cwd=where)
    location = Path(done.stdout.strip())
    assert venv in location.parents and ROOT not in location.parents, location


@pytest.fixture
def served(venv: Path) -> Iterator[str]:
    """``dashscope-emulator serve`` from the venv's console script, health-checked, stopped by its PID."""
    with serving(venv) as url:
        yield url


def test_serve_from_the_wheel_answers_with_its_package_data(served: str) -> None:
    status, _, body = get(served + "/_emulator/health")
    assert status == 200 and json.loads(body)
    request = urllib.request.Request(served + "/compatible-mode/v1/models", headers={"Authorization": "Bearer sk-w"})
    with urllib.request.urlopen(request, timeout=10) as answer:  # the catalog (catalog/models.json)
        models = [m["id"] for m in json.loads(answer.read())["data"]]
    assert "qwen-plus" in models
    status, kind, page = get(served + "/_emulator/")  # the dashboard's templates
    assert status == 200 and kind.startswith("text/html") and b"</html>" in page.lower()
    assets = re.findall(r'(?:href|src)="(/[^"?]*/static/[^"?]+)', page.decode())  # its static files, as linked
    assert {a.rsplit("/", 1)[1] for a in assets} >= {"dashboard.css", "dashboard.js", "favicon.svg"}, assets
    for asset in assets:
        status, _, content = get(served + asset)
        assert status == 200 and content, asset
    status, _, docs = get(served + "/docs")  # Swagger UI's page and assets (swagger-ui-bundle)
    assert status == 200 and b"swagger" in docs.lower()


def test_a_project_uses_the_pytest_plugin_from_the_wheel(venv: Path) -> None:
    project = venv.parent / "someone-elses-project"
    project.mkdir(exist_ok=True)
    (project / "test_uses_the_emulator.py").write_text(
        textwrap.dedent("""
            import json
            import os
            import urllib.request


            def test_the_fixture_serves_and_journals(dashscope_emulator):
                base = os.environ["DASHSCOPE_HTTP_BASE_URL"]
                key = os.environ["DASHSCOPE_API_KEY"]
                request = urllib.request.Request(base + "/files", headers={"Authorization": "Bearer " + key})
                with urllib.request.urlopen(request, timeout=10) as answer:
                    body = json.loads(answer.read())
                assert body["request_id"] and "files" in json.dumps(body)
                assert dashscope_emulator.requests(method="GET", path="/api/v1/files")
        """)
    )
    done = run([str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project)
    assert "1 passed" in done.stdout, done.stdout
