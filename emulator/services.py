"""The composition root's typed half: every domain service, built once, in dependency order.

``Services.build(rt)`` is the one place that knows how the services depend on each other; each dependency is
passed to its constructor (a service never looks another up):

    ExportLedger(rt)            the checkpoint exports' rows (no job engine)
    DeploymentHold(clock, ...)  refuses deleting a deployed job (no deployments service needed)
    FilesService(rt)
    FineTunesService(rt, find_export=ledger.find_export, before_delete=(hold, ledger.forget_job))
    CheckpointsService(rt, fine_tunes)
    DeploymentsService(rt, fine_tunes, ledger, policy=...)
    GenerationService(rt, deployments, fine_tunes)
    UploadsService(rt, generation)   the upload policy and the OSS form POST (file:// images)
    ModelCardsService(fine_tunes, exports, deployments)   the models list
    TasksService(rt, find_file=files.get_file)            async tasks (batch text embedding)
    BatchesService(rt, files)                             OpenAI-compatible Batch (its lines call generation)

The whole-emulator operations (``start``, ``wipe``, ``sync_all``) call each service by name, so a new service
is added here in one place: its field, its constructor call, and the lifecycle lines it needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from emulator.batches.service import BatchesService
from emulator.db import Tx
from emulator.deployments.service import DeploymentHold, DeploymentsService
from emulator.deployments.states import Policy as DeploymentPolicy
from emulator.files.service import FilesService
from emulator.fine_tunes.exports import CheckpointsService, ExportLedger
from emulator.fine_tunes.service import FineTunesService
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
    model_cards: ModelCardsService
    tasks: TasksService
    batches: BatchesService

    @classmethod
    def build(cls, rt: Runtime) -> Services:
        exports = ExportLedger(rt)
        policy = DeploymentPolicy()
        fine_tunes = FineTunesService(
            rt, find_export=exports.find_export, before_delete=(DeploymentHold(rt.clock, policy), exports.forget_job)
        )
        deployments = DeploymentsService(rt, fine_tunes, exports, policy=policy)
        generation = GenerationService(rt, deployments, fine_tunes)
        files = FilesService(rt)
        return cls(
            files=files,
            fine_tunes=fine_tunes,
            exports=exports,
            checkpoints=CheckpointsService(rt, fine_tunes),
            deployments=deployments,
            generation=generation,
            uploads=UploadsService(rt, generation),
            model_cards=ModelCardsService(fine_tunes, exports, deployments),
            tasks=TasksService(rt, find_file=files.get_file),
            batches=BatchesService(rt, files),
        )

    async def wipe(self, tx: Tx, tenant: str | None) -> tuple[dict[str, int], list[Cleanup]]:
        """Every stateful service wipes its rows (one tenant's, or all) in ``tx``; cleanups run after commit."""
        files, files_after = await self.files.wipe(tx, tenant)
        jobs, jobs_after = await self.fine_tunes.wipe(tx, tenant)
        deployments, deployments_after = await self.deployments.wipe(tx, tenant)
        exports, exports_after = await self.exports.wipe(tx, tenant)
        uploads, uploads_after = await self.uploads.wipe(tx, tenant)
        tasks, tasks_after = await self.tasks.wipe(tx, tenant)
        batches, batches_after = await self.batches.wipe(tx, tenant)
        removed = {
            "files": files,
            "fine_tunes": jobs,
            "deployments": deployments,
            "checkpoints": exports,
            "uploads": uploads,
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
        """At shutdown, before the database closes: work in flight (a task's result being written) is dropped."""
        await self.tasks.stop()
        await self.batches.stop()

    async def sync_all(self) -> None:
        """Apply every transition that fell due (after the clock moved)."""
        await self.fine_tunes.sync_all()
        await self.deployments.sync_all()
        await self.tasks.sync_all()
        await self.batches.sync_all()
