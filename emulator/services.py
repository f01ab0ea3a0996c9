"""The composition root's typed half: every domain service, each built on its first use.

``Services(rt)`` is the one place that knows what each service is made of: it hands each constructor the parts of
the runtime it uses (database, clock, ids, the change signal, settings) and the other services it calls; no service
sees the runtime or looks another up.

    ExportLedger(db, clock)             the checkpoint exports' rows (no job engine)
    DeploymentHold(clock, policy)       refuses deleting a deployed job (no deployments service needed)
    FilesService(db, clock, ids, data_dir, settings)
    FineTunesService(db, clock, ids, changes, settings, find_export=..., before_delete=(hold, ledger.forget_job))
    CheckpointsService(db, clock, changes, fine_tunes)
    DeploymentsService(db, clock, ids, changes, fine_tunes, ledger, max_capacity=..., policy=...)
    GenerationService(deployments, fine_tunes, seed=..., rules=..., ids=..., tool_policy=...)
    ResponsesService(db, clock, generation)      the Responses API's stored answers
    UploadsService(db, clock, settings, blob_dir, generation)   the upload policy and the OSS form POST
    ModelCardsService(fine_tunes, exports, deployments)         the models list
    TasksService(db, clock, ids, changes, data_dir, find_file=files.get_file)   async tasks (batch embedding)
    CallbackOutbox(policy, clock)       the batches' finish callbacks: their queue, workers and ring
    BatchesService(db, clock, ids, changes, data_dir, files, generation, rules, callbacks) OpenAI-compatible Batch

Each is a cached property whose module is imported inside it: a server starts without importing any service (the
route tables name their handlers, ``emulator.lazy``), and a request builds, once, the services its handler uses
and those they are made of.  Start-up resumes only the work a previous run left (``start``).

The app keeps them on ``app.state.services``; a route reaches its service through ``services(request)``.

The whole-emulator operations (``start``, ``wipe``, ``sync_all``) call each service by name, so a new service
is added here in one place: its property, and the lifecycle lines it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from starlette.requests import Request

from emulator.db import Tx
from emulator.runtime import Runtime

if TYPE_CHECKING:
    from emulator.batches.callbacks import CallbackOutbox
    from emulator.batches.service import BatchesService
    from emulator.deployments.service import DeploymentsService
    from emulator.deployments.states import Policy as DeploymentPolicy
    from emulator.files.service import FilesService
    from emulator.fine_tunes.exports import CheckpointsService, ExportLedger
    from emulator.fine_tunes.service import FineTunesService
    from emulator.generation.responses_service import ResponsesService
    from emulator.generation.service import GenerationService
    from emulator.model_cards.service import ModelCardsService
    from emulator.tasks.service import TasksService
    from emulator.uploads.service import UploadsService

Cleanup = Callable[[], None] | None


class Services:
    def __init__(self, rt: Runtime) -> None:
        self._rt = rt

    def _built(self, name: str) -> bool:
        """Whether the service ``name`` has been built (a cached property keeps it in the instance's dict)."""
        return name in self.__dict__

    @cached_property
    def exports(self) -> ExportLedger:
        from emulator.fine_tunes.exports import ExportLedger

        return ExportLedger(self._rt.db, self._rt.clock)

    @cached_property
    def deployment_policy(self) -> DeploymentPolicy:
        from emulator.deployments.states import Policy

        return Policy()

    @cached_property
    def fine_tunes(self) -> FineTunesService:
        from emulator.deployments.service import DeploymentHold
        from emulator.fine_tunes.service import FineTunesService

        rt, exports = self._rt, self.exports
        return FineTunesService(
            rt.db,
            rt.clock,
            rt.ids,
            rt.changes,
            rt.settings,
            find_export=exports.find_export,
            before_delete=(DeploymentHold(rt.clock, self.deployment_policy), exports.forget_job),
        )

    @cached_property
    def deployments(self) -> DeploymentsService:
        from emulator.deployments.service import DeploymentsService

        rt = self._rt
        return DeploymentsService(
            rt.db,
            rt.clock,
            rt.ids,
            rt.changes,
            self.fine_tunes,
            self.exports,
            max_capacity=rt.settings.max_deployment_capacity,
            policy=self.deployment_policy,
        )

    @cached_property
    def generation(self) -> GenerationService:
        from emulator.generation.service import GenerationService

        rt = self._rt
        return GenerationService(
            self.deployments,
            self.fine_tunes,
            seed=rt.settings.seed,
            rules=rt.responses,
            ids=rt.ids,
            tool_policy=rt.settings.tool_policy,
        )

    @cached_property
    def files(self) -> FilesService:
        from emulator.files.service import FilesService

        rt = self._rt
        return FilesService(rt.db, rt.clock, rt.ids, rt.data_dir, rt.settings)

    @cached_property
    def checkpoints(self) -> CheckpointsService:
        from emulator.fine_tunes.exports import CheckpointsService

        return CheckpointsService(self._rt.db, self._rt.clock, self._rt.changes, self.fine_tunes)

    @cached_property
    def uploads(self) -> UploadsService:
        from emulator.uploads.service import UploadsService

        rt = self._rt
        return UploadsService(rt.db, rt.clock, rt.settings, rt.blob_dir, self.generation)

    @cached_property
    def responses(self) -> ResponsesService:
        from emulator.generation.responses_service import ResponsesService

        return ResponsesService(self._rt.db, self._rt.clock, self.generation)

    @cached_property
    def model_cards(self) -> ModelCardsService:
        from emulator.model_cards.service import ModelCardsService

        return ModelCardsService(self.fine_tunes, self.exports, self.deployments)

    @cached_property
    def tasks(self) -> TasksService:
        from emulator.tasks.service import TasksService

        rt = self._rt
        return TasksService(rt.db, rt.clock, rt.ids, rt.changes, rt.data_dir, find_file=self.files.get_file)

    @cached_property
    def callbacks(self) -> CallbackOutbox:
        from emulator.batches.callbacks import CallbackOutbox, CallbackPolicy

        rt = self._rt
        return CallbackOutbox(CallbackPolicy(rt.settings.callback_hosts, rt.settings.host), rt.clock)

    @cached_property
    def batches(self) -> BatchesService:
        from emulator.batches.decide import LineRules
        from emulator.batches.service import BatchesService

        rt = self._rt
        return BatchesService(
            rt.db,
            rt.clock,
            rt.ids,
            rt.changes,
            rt.data_dir,
            self.files,
            self.generation,
            LineRules(rt.faults, rt.responses, rt.journal),
            line_seconds=rt.settings.batch_line_seconds,
            callbacks=self.callbacks,
        )

    async def wipe(self, tx: Tx, tenant: str | None) -> tuple[dict[str, int], list[Cleanup]]:
        """Every stateful service wipes its rows (one tenant's, or all) in ``tx``; cleanups run after commit."""
        files, files_after = await self.files.wipe(tx, tenant)
        jobs, jobs_after = await self.fine_tunes.wipe(tx, tenant)
        deployments, deployments_after = await self.deployments.wipe(tx, tenant)
        exports, exports_after = await self.exports.wipe(tx, tenant)
        uploads, uploads_after = await self.uploads.wipe(tx, tenant)
        responses, _ = await self.responses.wipe(tx, tenant)
        tasks, tasks_after = await self.tasks.wipe(tx, tenant)
        batches, batches_after = await self.batches.wipe(tx, tenant)
        removed = {
            "files": files,
            "fine_tunes": jobs,
            "deployments": deployments,
            "checkpoints": exports,
            "uploads": uploads,
            "responses": responses,
            "tasks": tasks,
            "batches": batches,
        }
        cleanups = [
            files_after,
            jobs_after,
            deployments_after,
            exports_after,
            uploads_after,
            tasks_after,
            batches_after,
        ]
        return removed, cleanups

    async def start(self) -> None:
        """At start-up, once the database is open: only a table with rows can hold work a previous run left to
        resume, so only such a table's store is imported and asked (a fresh database imports none of them), and
        only a service with work to resume is built now."""
        db = self._rt.db
        if await db.has_rows("fine_tunes"):
            from emulator.fine_tunes import store as fine_tune_store
            from emulator.fine_tunes.states import CANCEL_SECONDS

            async with db.transaction() as tx:
                await fine_tune_store.backfill_release(tx, CANCEL_SECONDS)
        if await db.has_rows("tasks"):
            from emulator.tasks import store as task_store

            if await task_store.unfinished(db):
                await self.tasks.start()
        if await db.has_rows("batches"):
            from emulator.batches import store as batch_store

            if await batch_store.open_batches(db):
                await self.batches.start()

    async def stop(self) -> None:
        """At shutdown, before the database closes: work in flight stops at a safe point (a service never built has
        none)."""
        if self._built("tasks"):
            await self.tasks.stop()
        if self._built("batches"):
            await self.batches.stop()
        if self._built("callbacks"):
            await self.callbacks.stop()

    def forget_callbacks(self) -> None:
        """A whole reset: the ring of callback attempts starts empty (one never built holds none)."""
        if self._built("callbacks"):
            self.callbacks.clear()

    async def sync_all(self) -> None:
        """Apply every transition that fell due (after the clock moved)."""
        await self.fine_tunes.sync_all()
        await self.deployments.sync_all()
        if self._built("tasks"):  # their work in flight is in memory: a service never built has none
            await self.tasks.sync_all()
        if self._built("batches"):
            await self.batches.sync_all()


def services(request: Request) -> Services:
    """The typed way from a request to the services (``runtime(request)`` to the infrastructure)."""
    found: Services = request.app.state.services
    return found
