"""The composition root's typed half: every domain service, built once, in dependency order.

``Services.build(rt)`` is the one place that knows what each service is made of: it hands each constructor the
parts of the runtime it uses (database, clock, ids, the change signal, settings) and the other services it
calls; no service sees the runtime or looks another up.

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
    BatchesService(db, clock, ids, changes, data_dir, files, generation, rules) OpenAI-compatible Batch

The app keeps them on ``app.state.services``; a route reaches its service through ``services(request)``.

The whole-emulator operations (``start``, ``wipe``, ``sync_all``) call each service by name, so a new service
is added here in one place: its field, its constructor call, and the lifecycle lines it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

from emulator.batches.decide import LineRules
from emulator.batches.service import BatchesService
from emulator.db import Tx
from emulator.deployments.service import DeploymentHold, DeploymentsService
from emulator.deployments.states import Policy as DeploymentPolicy
from emulator.files.service import FilesService
from emulator.fine_tunes.exports import CheckpointsService, ExportLedger
from emulator.fine_tunes.service import FineTunesService
from emulator.generation.responses_service import ResponsesService
from emulator.generation.service import GenerationService
from emulator.model_cards.service import ModelCardsService
from emulator.runtime import Runtime
from emulator.tasks.service import TasksService
from emulator.uploads.service import UploadsService

Cleanup = Callable[[], None] | None


@dataclass(frozen=True)
class Services:
    files: FilesService
    fine_tunes: FineTunesService
    exports: ExportLedger
    checkpoints: CheckpointsService
    deployments: DeploymentsService
    generation: GenerationService
    uploads: UploadsService
    responses: ResponsesService
    model_cards: ModelCardsService
    tasks: TasksService
    batches: BatchesService

    @classmethod
    def build(cls, rt: Runtime) -> Services:
        db, clock, changes, settings = rt.db, rt.clock, rt.changes, rt.settings
        exports = ExportLedger(db, clock)
        policy = DeploymentPolicy()
        fine_tunes = FineTunesService(
            db,
            clock,
            rt.ids,
            changes,
            settings,
            find_export=exports.find_export,
            before_delete=(DeploymentHold(clock, policy), exports.forget_job),
        )
        deployments = DeploymentsService(
            db,
            clock,
            rt.ids,
            changes,
            fine_tunes,
            exports,
            max_capacity=settings.max_deployment_capacity,
            policy=policy,
        )
        generation = GenerationService(
            deployments,
            fine_tunes,
            seed=settings.seed,
            rules=rt.responses,
            ids=rt.ids,
            tool_policy=settings.tool_policy,
        )
        files = FilesService(db, clock, rt.ids, rt.data_dir, settings)
        return cls(
            files=files,
            fine_tunes=fine_tunes,
            exports=exports,
            checkpoints=CheckpointsService(db, clock, changes, fine_tunes),
            deployments=deployments,
            generation=generation,
            uploads=UploadsService(db, clock, settings, rt.blob_dir, generation),
            responses=ResponsesService(db, clock, generation),
            model_cards=ModelCardsService(fine_tunes, exports, deployments),
            tasks=TasksService(db, clock, rt.ids, changes, rt.data_dir, find_file=files.get_file),
            batches=BatchesService(
                db,
                clock,
                rt.ids,
                changes,
                rt.data_dir,
                files,
                generation,
                LineRules(rt.faults, rt.responses, rt.journal),
                line_seconds=settings.batch_line_seconds,
            ),
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
        """At start-up, once the database is open."""
        await self.fine_tunes.start()
        await self.tasks.start()
        await self.batches.start()

    async def stop(self) -> None:
        """At shutdown, before the database closes: work in flight stops at a safe point."""
        await self.tasks.stop()
        await self.batches.stop()

    async def sync_all(self) -> None:
        """Apply every transition that fell due (after the clock moved)."""
        await self.fine_tunes.sync_all()
        await self.deployments.sync_all()
        await self.tasks.sync_all()
        await self.batches.sync_all()


def services(request: Request) -> Services:
    """The typed way from a request to the services (``runtime(request)`` to the infrastructure)."""
    found: Services = request.app.state.services
    return found
