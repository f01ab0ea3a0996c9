"""The README is the user's guide: the user's path comes first, every in-page link lands on a heading, and project
history and contributor detail live in CONTRIBUTING.md and docs/ instead."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
USER_PATH = ["Install", "Quick start", "In your tests: the pytest plugin", "Other languages and clients", "CI"]


def _anchor(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_the_users_path_opens_the_readme_and_contributing_closes_it() -> None:
    sections = re.findall(r"^## (.+)$", README, re.M)
    assert sections[: len(USER_PATH)] == USER_PATH
    assert sections[-1] == "Contributing"
    assert "make serve" in README.split("## In your tests")[0] and "make test" in README.split("## Contributing")[1]


def test_every_in_page_link_lands_on_a_heading() -> None:
    anchors = {_anchor(h) for h in re.findall(r"^#+ (.+)$", README, re.M)}
    links = re.findall(r"\]\(#([^)]+)\)", README)
    assert links
    assert sorted(set(links) - anchors) == []


def test_the_contents_list_every_section() -> None:
    contents = README.split("**Contents:**", 1)[1].split("\n\n", 1)[0]
    listed = re.findall(r"\]\(#([^)]+)\)", contents)
    assert listed == [_anchor(h) for h in re.findall(r"^## (.+)$", README, re.M)]


def test_no_project_history_in_the_readme() -> None:
    assert not re.search(r"open question \d|issue \d|\bbench/NOTES", README, re.I)
    for moved in ("docs/decisions.md", "docs/performance.md", "CONTRIBUTING.md"):
        assert f"]({moved}" in README and (ROOT / moved).is_file()
