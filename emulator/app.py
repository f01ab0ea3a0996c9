"""The composition root: builds the runtime and the typed services on it (``Services``), derives the routes
from each resource's ``operations`` (one declaration per endpoint), and puts the gateway in front of them."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from weakref import WeakMethod

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from emulator import openapi, signposts
from emulator.batches import routes as batch_routes
from emulator.clock import Clock, SharedClockFile
from emulator.control import routes as control
from emulator.control.paths import clean_leftovers as clean_control_leftovers
from emulator.control.paths import pid_alive
from emulator.control.persistence import restore_clock, save_clock
from emulator.dashboard import routes as dashboard_routes
from emulator.db import Database, bump_counter
from emulator.deployments import routes as deployment_routes
from emulator.embeddings import routes as embedding_routes
from emulator.files import routes as file_routes
from emulator.fine_tunes import routes as fine_tune_routes
from emulator.gateway import Gateway
from emulator.generation import routes as generation_routes
from emulator.ids import Ids
from emulator.journal.recorder import Journal
from emulator.model_cards import routes as model_card_routes
from emulator.openai_files import routes as openai_file_routes
from emulator.rules.faults import SERVER_SEND, FaultRules, load_rules
from emulator.rules.responses import ResponseRules
from emulator.rules.responses import load_rules as load_responses
from emulator.runtime import Runtime
from emulator.services import Services
from emulator.settings import Settings
from emulator.tasks import routes as task_routes
from emulator.tenants import TenantRegistry
from emulator.uploads import routes as upload_routes

log = logging.getLogger("emulator")

SEEDED_START = 1728705300.0
"""2024-10-12 11:55:00 Beijing time (the seed's own example): where a --seed run's clock starts by default."""


def create_app(settings: Settings, *, clock: Clock | None = None, ids: Ids | None = None) -> Starlette:
    data_dir = settings.data_dir
    if data_dir is None:
        data_dir = (
            Path(tempfile.mkdtemp(prefix="dashscope-emulator-")) if settings.in_memory else settings.resolved_data_dir()
        )
    db = Database(settings.db)
    ids = ids or Ids(settings.seed)
    start = settings.start_time if settings.start_time is not None else (SEEDED_START if ids.seeded else None)
    if clock is None:
        clock = Clock.starting_at(start, settings.time_scale)
        if not settings.in_memory and settings.workers > 1:  # one worker has nobody to agree with: no stat per now()
            clock.shared = SharedClockFile(data_dir / "clock.json")
    rt = Runtime(
        settings=settings,
        db=db,
        clock=clock,
        ids=ids,
        data_dir=data_dir,
        tenants=TenantRegistry(db, settings.api_keys),
        faults=FaultRules(
            ids, load_rules(settings.faults_file) if settings.faults_file else None, settings.max_fault_rules
        ),
        journal=Journal(settings.journal_size, clock),
        responses=ResponseRules(load_responses(settings.responses_file) if settings.responses_file else None),
    )
    if settings.models_file is not None or "emulator.catalog" in sys.modules:
        from emulator.catalog.handlers import load_user_models  # the catalog is imported on first use, not at start

        load_user_models(settings)  # --models: the user layer of the model catalog (reset for each app)
    services = Services(rt)  # each service gets the parts it uses through its constructor
    app = EmulatorApp(
        routes=[
            *openapi.endpoint_routes(api_operations()),
            *control.routes(settings),
            *dashboard_routes.routes(settings),
            *openapi.routes(operations()),
            *signposts.routes(),
        ],
        lifespan=_lifespan,
    )
    app.state.rt = rt
    app.state.services = services
    app.gateway = Gateway(app.router, rt)
    app.state.owns_data_dir = settings.data_dir is None and settings.in_memory
    return app


class EmulatorApp(Starlette):
    """Starlette, with one gateway (``emulator.gateway``) in place of the middleware stack it would build."""

    gateway: Gateway

    def add_middleware(self, middleware_class: Any, *args: Any, **kwargs: Any) -> None:
        """Refused: the gateway replaces Starlette's middleware stack, so a middleware added here would never
        run.  Wrap the app instead (``app = Middleware(app)``), or extend ``emulator.gateway``."""
        raise TypeError(
            "the emulator's app runs no Starlette middleware (one gateway replaces the stack, see "
            "emulator.gateway): wrap the app instead, e.g. SomeMiddleware(app)"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        # a fault's drop_connection closes the server's transport through the server's own send; a weak reference,
        # since that send is a method of uvicorn's cycle object, which holds this scope: a strong one would make
        # every request a reference cycle for the garbage collector (measured: ~30 µs of CPU a request)
        scope[SERVER_SEND] = WeakMethod(send) if hasattr(send, "__self__") else send
        await self.gateway(scope, receive, send)


SETTINGS_ENV = "EMULATOR_SETTINGS_JSON"


def api_operations() -> list[openapi.Operation]:
    """The service's own endpoints: each one declared once (``Operation(..., endpoint=handler)``)."""
    return [
        *file_routes.operations,
        *fine_tune_routes.operations,
        *deployment_routes.operations,
        *generation_routes.operations,
        *upload_routes.operations,
        *model_card_routes.operations,
        *embedding_routes.operations,
        *task_routes.operations,
        *openai_file_routes.operations,
        *batch_routes.operations,
    ]


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[Runtime, Services]]:
    """The runtime and services of an app started (its lifespan) without serving: the offline commands (``seed``)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app.state.rt, app.state.services


def operations() -> list[openapi.Operation]:
    """Every documented operation: the service's and the control plane's (served unless ``control_plane`` is
    off in the settings)."""
    return [*api_operations(), *control.operations]


def create_app_from_env() -> Starlette:
    """The factory uvicorn's worker processes call (``--workers``): the settings travel as JSON in the env."""
    settings = Settings.from_json(os.environ[SETTINGS_ENV])
    from emulator.protocol import use_head_timeout  # this worker's connections (uvicorn's config has no field)

    use_head_timeout(settings.head_timeout)
    return create_app(settings)


@asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    rt: Runtime = app.state.rt
    await start_runtime(rt, app.state.services)
    if getattr(app.state, "resume_gc", False):
        resume_gc()
    try:
        yield
    finally:
        await stop_runtime(rt, app.state.services)
        if app.state.owns_data_dir:
            shutil.rmtree(rt.data_dir, ignore_errors=True)


def resume_gc() -> None:
    """``serve`` pauses the garbage collector while it starts (imports and the app's tables make long-lived
    objects, no garbage; its collections were ~4% of a start's instructions); once the app is up everything made
    so far is frozen (kept out of every later collection, which then has less to scan) and collection resumes."""
    gc.freeze()
    gc.enable()


async def start_runtime(rt: Runtime, services: Services) -> None:
    rt.data_dir.mkdir(parents=True, exist_ok=True)
    _clean_temp(rt.temp_dir)
    clean_control_leftovers(rt)
    await rt.db.open()
    if rt.ids.seeded:
        rt.ids.epoch = await _next_epoch(rt.db)
    await restore_clock(rt)
    await services.start()
    rt.background.append(asyncio.create_task(_sweep_later(services)))


async def _next_epoch(db: Database) -> int:
    """This start's place among the starts on this database (0 for the first): see ``emulator.ids``."""
    async with db.transaction() as tx:
        row = await tx.fetchone("SELECT n FROM counters WHERE tenant = '' AND kind = 'start-epoch'")
        await bump_counter(tx, "", "start-epoch", 1)
    return int(row[0]) if row is not None else 0


async def _sweep_later(services: Services) -> None:
    """Orphan blobs are swept once, shortly after start, off the start-up path."""
    await asyncio.sleep(2.0)
    try:
        removed = await services.files.sweep_orphans()
    except Exception:  # the sweep is housekeeping: never let it take the server down
        log.exception("orphan blob sweep failed")
        return
    if removed:
        log.warning("removed %d orphan blob(s) left by an interrupted upload", removed)


async def stop_runtime(rt: Runtime, services: Services) -> None:
    for task in rt.background:
        task.cancel()
    await asyncio.gather(*rt.background, return_exceptions=True)
    rt.background.clear()
    await services.stop()
    await save_clock(rt)
    await rt.db.close()


def _clean_temp(temp_dir: Path) -> None:
    """Half-written uploads of a crashed run are never listed; their temp files go at start.

    Temp names start with the writer's PID, so a worker (re)starting beside others spares their uploads.
    """
    if temp_dir.exists():
        for leftover in temp_dir.glob("*.part"):
            if not pid_alive(leftover.name.split("-", 1)[0]):
                leftover.unlink(missing_ok=True)
    temp_dir.mkdir(parents=True, exist_ok=True)
