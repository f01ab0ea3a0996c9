"""`make test-latest`: the canary. Every venv `make test` builds, rebuilt from the newest releases under
.venv-latest/, the contract and client tests run against them, and a table of what broke.

Not part of `make test` or CI (it resolves against PyPI as it is today, which is what it is for). The inputs are
the locks' own: pyproject.toml's extras for the test venv, and each locks/**/*.in, where a `==` pin is relaxed to
the newest release of its major version. The SDK venvs are the exception: each is the SDK version its tests are
written for (1.20.11's CLI is not 1.27's), so they keep it with their dependencies at the newest, and the table
notes the newest release of that line. Stdlib only: it runs before any venv exists.

    python locks/canary.py --uv .venv-uv/bin/uv [--jobs 4] [-- pytest arguments]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "locks"
OUT = ROOT / ".venv-latest"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;,]+)")
LOCKED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.M)
NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")
# The test venv's rows: the clients the tests drive from it and what the emulator itself stands on.
TEST_VENV_PACKAGES = ("openai", "httpx", "starlette", "uvicorn", "pydantic", "aiosqlite")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Venv:
    label: str  # the venv make test builds
    lock: Path  # its lock
    requirements: list[str]  # what the canary compiles (relaxed)
    packages: list[str]  # the rows of the table
    path: Path  # where the canary builds it
    pip: bool = False  # the test venv keeps pip
    line_requirements: list[str] | None = None  # an SDK venv: its version's whole major line, for the note
    line: dict[str, str] = field(default_factory=dict)

    @property
    def latest_lock(self) -> Path:
        return OUT / "locks" / self.lock.relative_to(LOCKS)


def relax(line: str) -> str:
    """`name==1.20.11` becomes `name>=1.20.11,<2`: the newest release of the same major version."""
    pin = PIN.match(line)
    if not pin:
        return line
    major = re.match(r"\d+", pin[2])
    upper = f",<{int(major[0]) + 1}" if major else ""
    return f"{pin[1]}>={pin[2]}{upper}"


def requirement_lines(path: Path) -> list[str]:
    return [line.split("#")[0].strip() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


def venvs() -> list[Venv]:
    found = [
        Venv(".venv", LOCKS / "test.txt", [], list(TEST_VENV_PACKAGES), OUT / "test", pip=True),
        Venv(".venv-client", LOCKS / "client.txt", [], [], OUT / "client", pip=True),
    ]
    found += [Venv(f".venv-sdk/{p.stem}", p.with_suffix(".txt"), [], [], OUT / "sdk" / p.stem) for p in _ins("sdk")]
    found += [
        Venv(f".venv-clients/{p.stem}", p.with_suffix(".txt"), [], [], OUT / "clients" / p.stem)
        for p in _ins("clients")
    ]
    for venv in found[1:]:
        lines = requirement_lines(venv.lock.with_suffix(".in"))
        venv.requirements = [relax(line) for line in lines]
        if venv.label.startswith(".venv-sdk/"):
            venv.requirements, venv.line_requirements = lines, venv.requirements
        venv.packages = [NAME.match(line)[1] for line in lines if NAME.match(line)]  # type: ignore[index]
    return found


def _ins(folder: str) -> list[Path]:
    return sorted((LOCKS / folder).glob("*.in"))


def run(cmd: list[str], **kwargs: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


def compile_latest(uv: str, venv: Venv) -> None:
    venv.latest_lock.parent.mkdir(parents=True, exist_ok=True)
    flags = ["--quiet", "--generate-hashes", "--python-version", "3.11", "--upgrade", "-o", str(venv.latest_lock)]
    if venv.label == ".venv":
        sources = ["pyproject.toml", "locks/build.in", "--extra", "test"]
    else:
        relaxed = venv.latest_lock.with_suffix(".in")
        relaxed.write_text("\n".join(venv.requirements) + "\n")
        sources = [str(relaxed)]
    run([uv, "pip", "compile", *sources, *flags], cwd=ROOT)


def newest_on_the_line(uv: str, venv: Venv) -> dict[str, str]:
    """What the newest release of an SDK venv's major line would be (compiled, not installed)."""
    if venv.line_requirements is None:
        return {}
    source = venv.latest_lock.with_name(venv.latest_lock.stem + ".line.in")
    source.write_text("\n".join(venv.line_requirements) + "\n")
    out = source.with_suffix(".txt")
    run([uv, "pip", "compile", str(source), "--quiet", "--python-version", "3.11", "--upgrade", "-o", str(out)])
    return versions(out)


def build(uv: str, venv: Venv) -> None:
    compile_latest(uv, venv)
    venv.line = newest_on_the_line(uv, venv)
    if venv.path.exists():
        shutil.rmtree(venv.path)
    run([sys.executable, "-m", "venv", *([] if venv.pip else ["--without-pip"]), str(venv.path)])
    python = str(venv.path / "bin" / "python")
    run([uv, "pip", "sync", "--quiet", "--require-hashes", "--python", python, str(venv.latest_lock)])
    if venv.label == ".venv":
        run([uv, "pip", "install", "--quiet", "--python", python, "--no-deps", "--no-build-isolation", "-e", "."])
    (venv.path / ".installed").touch()


def versions(lock: Path) -> dict[str, str]:
    if not lock.exists():
        return {}
    return {canonical(m[1]): m[2] for m in LOCKED.finditer(lock.read_text())}


def results(junit: Path, all_venvs: list[Venv]) -> dict[str, list[int]]:
    """[passed, failed, skipped] per venv label: a test counts for each venv it asked for, or the test venv."""
    by_path = {str(v.path): v.label for v in all_venvs}
    counts = {v.label: [0, 0, 0] for v in all_venvs}
    for case in ET.parse(junit).iter("testcase"):
        used = {by_path.get(p.get("value", ""), "") for p in case.iter("property") if p.get("name") == "venv"}
        used.discard("")
        outcome = 1 if case.find("failure") is not None or case.find("error") is not None else 0
        outcome = 2 if outcome == 0 and case.find("skipped") is not None else outcome
        for label in used or {".venv"}:
            counts[label][outcome] += 1
    return counts


def table(all_venvs: list[Venv], counts: dict[str, list[int]]) -> Iterable[str]:
    yield "| venv | client | locked | newest | tests |"
    yield "| --- | --- | --- | --- | --- |"
    for venv in all_venvs:
        locked, newest = versions(venv.lock), versions(venv.latest_lock)
        passed, failed, skipped = counts.get(venv.label, [0, 0, 0])
        verdict = "FAILED" if failed else ("passed" if passed else "not run")
        verdict += f" ({passed} passed, {failed} failed" + (f", {skipped} skipped)" if skipped else ")")
        for name in venv.packages:
            old, new = locked.get(canonical(name), "?"), newest.get(canonical(name), "?")
            mark = "" if old == new else " (newer)"
            line = venv.line.get(canonical(name))
            if line and line != new:
                mark += f"; the newest of its line, {line}, is not this venv's version"
            yield f"| {venv.label} | {name} | {old} | {new}{mark} | {verdict} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uv", required=True)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--workers", default="2", help="pytest-xdist workers")
    parser.add_argument("pytest_args", nargs="*", default=["tests/contract"])
    args = parser.parse_args()
    all_venvs = venvs()
    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(lambda v: build(args.uv, v), all_venvs))
    junit = OUT / "junit.xml"
    env = {
        **os.environ,
        "EMULATOR_REQUIRE_SDK": "1",
        "EMULATOR_SDK_VENVS": str(OUT / "sdk"),
        "EMULATOR_CLIENT_VENV": str(OUT / "client"),
        "EMULATOR_CLIENT_VENVS": str(OUT / "clients"),
    }
    python = str(OUT / "test" / "bin" / "python")
    pytest = [python, "-m", "pytest", "-q", "-n", args.workers, f"--junitxml={junit}", *args.pytest_args]
    print("+", " ".join(pytest), flush=True)
    code = subprocess.run(pytest, cwd=ROOT, env=env).returncode
    counts = results(junit, all_venvs) if junit.exists() else {}
    lines = list(table(all_venvs, counts))
    (OUT / "table.md").write_text("\n".join(lines) + "\n")
    print("\nmake test-latest: the newest releases against the locked ones (also in .venv-latest/table.md)")
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main())
