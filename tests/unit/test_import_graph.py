"""No import circle in ``emulator/``: every import, at module level, inside a function or under
``if TYPE_CHECKING:`` (a circle of types is a circle of understanding, even when it never runs), forms an acyclic
graph; the rooms of the house (``CONTRIBUTING.md``, Architecture) only import downwards; and a started server has
not imported what only some requests need (``NOT_AT_START``).
"""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel
from starlette.routing import Route

import emulator
from emulator import app as app_module
from emulator import lazy
from emulator.openapi import model_class
from emulator.settings import Settings

ROOT = Path(emulator.__file__).resolve().parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST, here: str, is_package: bool, known: set[str]) -> set[str]:
    found: set[str] = set()
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = here if is_package else here.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        stack.extend(ast.iter_child_nodes(node))
    return {name for name in found if name in known}


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in ROOT.rglob("*.py")}
    known = set(files)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges = _imports(tree, name, path.name == "__init__.py", known)
        # importing a.b.c runs a and a.b first
        graph[name] = {target for edge in edges for target in _with_parents(edge)} - {name} - _parents(name)
    return graph


def _parents(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def _with_parents(name: str) -> set[str]:
    return {name} | _parents(name)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_graph_sees_imports_inside_functions() -> None:
    graph = import_graph()
    assert "emulator.app" in graph["emulator.__main__"]  # imported inside the serve command only


def test_the_cycle_finder_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle_in_the_package() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or ())


def test_the_graph_sees_type_only_imports() -> None:
    graph = import_graph()
    assert "emulator.rules.response_schemas" in graph["emulator.rules.responses"]  # under TYPE_CHECKING only


# ---------------------------------------------------------------------------------------------------- the rooms

TOP = ("emulator.app", "emulator.__main__", "emulator.services", "emulator.control", "emulator.dashboard")
"""The composition root, the CLI, and the control plane and its dashboard, which act on the whole emulator."""
RESOURCES = (
    "emulator.files",
    "emulator.fine_tunes",
    "emulator.deployments",
    "emulator.generation",
    "emulator.uploads",
    "emulator.model_cards",
    "emulator.embeddings",
    "emulator.tasks",
    "emulator.openai_files",
    "emulator.batches",
)
OUTSIDE = ("emulator.pytest_plugin", "emulator.testing")
"""Client-side helpers for test suites: they talk to a server over HTTP and import none of it."""


def _in(name: str, rooms: tuple[str, ...]) -> bool:
    return any(name == room or name.startswith(room + ".") for room in rooms)


def test_nothing_below_the_resources_imports_upwards() -> None:
    """The shared machinery (settings, db, clock, ids, errors, http, the gateway, the guard, the request context,
    the rule books and the journal, ...) imports no resource, no control plane and not the composition."""
    graph = import_graph()
    below = [n for n in graph if not _in(n, TOP + RESOURCES + OUTSIDE)]
    assert "emulator.rules.faults" in below and "emulator.journal.recorder" in below and "emulator.gateway" in below
    upwards = sorted(f"{n} -> {t}" for n in below for t in graph[n] if _in(t, TOP + RESOURCES))
    assert upwards == []


def test_only_the_top_imports_the_control_plane() -> None:
    graph = import_graph()
    importers = sorted(n for n, targets in graph.items() if any(_in(t, ("emulator.control",)) for t in targets))
    assert [n for n in importers if not _in(n, TOP)] == []
    assert "emulator.app" in importers  # the check sees the control plane's importers


def test_a_resource_service_never_reaches_the_composition() -> None:
    """Services get their collaborators through their constructors: only a handlers module may use the typed
    accessor (``services(request)``) of ``emulator.services``."""
    graph = import_graph()
    reaching = sorted(
        f"{n} -> {t}"
        for n, targets in graph.items()
        if _in(n, RESOURCES) and not n.rsplit(".", 1)[-1].endswith(("handlers", "requests", "tokenizer"))
        for t in targets
        if _in(t, TOP)
    )
    assert reaching == []


def test_no_routes_module_imports_another() -> None:
    """HTTP adapters share code through schemas, wire and request helpers, never through each other: a route table
    imports no handlers module and no other table; a handlers module no other handlers module."""
    graph = import_graph()

    def is_routes(name: str) -> bool:
        return name.rsplit(".", 1)[-1].endswith(("routes", "handlers"))

    crossings = sorted(
        f"{name} -> {target}"
        for name, targets in graph.items()
        if is_routes(name)
        for target in targets
        if is_routes(target) and target != name
    )
    assert crossings == []


# ---------------------------------------------------------------------------------------------------- start-up

NOT_AT_START = (
    # every resource: its route table (``<resource>/routes.py``) names its handlers and models, which come with the
    # first request that needs them, and a service is built (``emulator.services``) on its first use
    "pydantic",
    "regex",
    "emulator.generation.answer",
    "emulator.generation.service",
    "emulator.synth.text",
    # the dashboard: its route table is registered at start, its pages and forms on the first dashboard request
    "emulator.dashboard.pages",
    "emulator.dashboard.actions",
    "emulator.dashboard.views",
    "emulator.dashboard.chart",
    "emulator.dashboard.store",
    "jinja2",
    "starlette.templating",
    # the control plane: the health check is imported with the table, the rest on its first request
    "emulator.control.handlers",
    "emulator.control.schemas",
    "emulator.control.service",
    "emulator.control.snapshot",
    "emulator.control.seed",
    # the response rules' schemas: with the first rule added
    "emulator.rules.response_schemas",
    "tarfile",
    # generated text: Faker on the first text it writes
    "faker",
    # no pydantic validator is built at start (the settings are a dataclass, the checkpoint RootModels and the
    # deployment templates come with their first use): building the first one scans every installed package for
    # pydantic plugins (importlib.metadata)
    "pydantic.plugin._loader",
    "importlib.metadata",
    "pydantic.root_model",
    "emulator.fine_tunes.checkpoint_schemas",
    # the batches' finish callbacks: their module with the batches service, httpx with the first delivery
    "emulator.batches.callbacks",
    "httpx",
    # the OSS upload host's XML errors escape with html.escape
    "xml.sax",
    "urllib.request",
)
"""Modules a started server has not imported: each one cost start-up time (``bench/NOTES.md``, start-up)."""

_START = """
import asyncio, json, sys
from emulator.__main__ import cli
from emulator.app import create_app
from emulator.settings import Settings
import uvicorn

async def start() -> None:
    app = create_app(Settings(db=sys.argv[1]))
    async with app.router.lifespan_context(app):
        print(json.dumps(sorted(sys.modules)))

asyncio.run(start())
"""


def test_a_started_server_has_not_imported_the_lazy_modules(tmp_path: Path) -> None:
    """``serve``'s imports, the app and its lifespan's start, in a fresh interpreter: no module above is loaded."""
    done = subprocess.run(
        [sys.executable, "-c", _START, str(tmp_path / "emulator.db")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "emulator.control.routes" in loaded and "emulator.dashboard.routes" in loaded  # the check ran
    assert sorted(set(NOT_AT_START) & loaded) == []
    assert sorted(m for m in loaded if m.startswith("emulator.") and m.endswith(LAZY_KINDS)) == []


LAZY_KINDS = ("handlers", "service", "schemas", "wire")
"""Module names (by their end) that no started server has imported: handlers, services, pydantic schemas."""


def test_every_lazy_route_resolves_to_a_handler(settings_factory: Callable[..., Settings]) -> None:
    """A route table names its handlers by string: a typo would surface at the first request, so resolve them all."""
    app = app_module.create_app(settings_factory())
    lazy_routes = [r for r in app.routes if isinstance(r, Route) and hasattr(r.endpoint, lazy.RESOLVE)]
    assert len(lazy_routes) >= 30  # the dashboard's pages and forms, the control plane but the health check
    for route in lazy_routes:
        handler = getattr(route.endpoint, lazy.RESOLVE)()
        assert inspect.iscoroutinefunction(handler), route.path


def test_every_named_model_resolves() -> None:
    for op in app_module.operations():
        for model in (op.request, op.response):
            if isinstance(model, str):
                assert issubclass(model_class(model), BaseModel), f"{op.method} {op.path}: {model}"
