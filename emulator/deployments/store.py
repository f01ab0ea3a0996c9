"""SQL for deployments, and nothing else."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from emulator.db import Database, Tx, bump_counter, read_counter, wipe_counters
from emulator.deployments.states import DeploymentStatus, Schedule, View

KIND = "deployments"
_SETTLED = "(status = 'FAILED' OR (status = 'RUNNING' AND ready_capacity = capacity))"


@dataclass
class DeploymentRow:
    seq: int
    deployed_model: str
    tenant: str
    model_name: str
    base_model: str
    job_id: str | None
    plan: str
    status: DeploymentStatus
    base_capacity: int
    ready_capacity: int
    charge_type: str
    creator: str
    workspace_id: str
    modified_at: float
    schedule: Schedule
    message: str | None = None
    options: Options | None = None
    """The 2026 create fields; None for a deployment made before they were stored."""

    @property
    def capacity(self) -> int:
        return self.schedule.capacity

    def view(self) -> View:
        return View(self.status, self.ready_capacity, self.modified_at)

    def take(self, view: View) -> None:
        self.status, self.ready_capacity, self.modified_at = view.status, view.ready_capacity, view.modified_at


@dataclass(frozen=True)
class Options:
    suffix: str | None = None
    deploy_spec: str | dict[str, object] | None = None
    billing_method: str | None = None

    @property
    def model_unit_spec(self) -> str | None:
        spec = self.deploy_spec
        if isinstance(spec, dict):
            value = spec.get("model_unit_spec") or spec.get("deploy_spec") or spec.get("spec")
            return value if isinstance(value, str) else None
        return spec


_COLUMNS = (
    "seq, deployed_model, tenant, model_name, base_model, job_id, plan, status, base_capacity, capacity, "
    "ready_capacity, charge_type, creator, workspace_id, created_at, modified_at, deploy_at, running_at, "
    "ready_base, ready_base_at, failed_at, deleting_at, message"
)


def _row(r: sqlite3.Row) -> DeploymentRow:
    schedule = Schedule(
        created_at=r["created_at"],
        deploy_at=r["deploy_at"],
        running_at=r["running_at"],
        capacity=r["capacity"],
        ready_base=r["ready_base"],
        ready_base_at=r["ready_base_at"],
        failed_at=r["failed_at"],
        deleting_at=r["deleting_at"],
    )
    return DeploymentRow(
        seq=r["seq"],
        deployed_model=r["deployed_model"],
        tenant=r["tenant"],
        model_name=r["model_name"],
        base_model=r["base_model"],
        job_id=r["job_id"],
        plan=r["plan"],
        status=DeploymentStatus(r["status"]),
        base_capacity=r["base_capacity"],
        ready_capacity=r["ready_capacity"],
        charge_type=r["charge_type"],
        creator=r["creator"],
        workspace_id=r["workspace_id"],
        modified_at=r["modified_at"],
        schedule=schedule,
        message=r["message"],
    )


async def insert_deployment(tx: Tx, d: DeploymentRow, memory: list[tuple[str, str]]) -> None:
    s = d.schedule
    d.seq = await tx.insert(
        f"INSERT INTO deployments ({_COLUMNS.replace('seq, ', '')}, memory) VALUES ({','.join('?' * 23)})",
        (
            d.deployed_model,
            d.tenant,
            d.model_name,
            d.base_model,
            d.job_id,
            d.plan,
            d.status.value,
            d.base_capacity,
            s.capacity,
            d.ready_capacity,
            d.charge_type,
            d.creator,
            d.workspace_id,
            s.created_at,
            d.modified_at,
            s.deploy_at,
            s.running_at,
            s.ready_base,
            s.ready_base_at,
            s.failed_at,
            s.deleting_at,
            d.message,
            json.dumps(memory, ensure_ascii=False) if memory else None,
        ),
    )
    await bump_counter(tx, d.tenant, KIND, 1)
    if d.options is not None:
        o = d.options
        await tx.execute(
            "INSERT OR REPLACE INTO deployment_options (seq, tenant, model_name, suffix, deploy_spec, billing_method) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                d.seq,
                d.tenant,
                d.model_name,
                o.suffix,
                None if o.deploy_spec is None else json.dumps(o.deploy_spec, ensure_ascii=False),
                o.billing_method,
            ),
        )


async def options_of(db: Database | Tx, rows: list[DeploymentRow]) -> None:
    """Fill ``options`` of these rows (one query per call, at most a page of rows)."""
    if not rows:
        return
    by_seq = {r.seq: r for r in rows}
    found = await db.fetchall(
        "SELECT seq, suffix, deploy_spec, billing_method FROM deployment_options "
        f"WHERE seq IN ({','.join('?' * len(by_seq))})",
        tuple(by_seq),
    )
    for r in found:
        spec = json.loads(r["deploy_spec"]) if r["deploy_spec"] is not None else None
        by_seq[r["seq"]].options = Options(r["suffix"], spec, r["billing_method"])


async def of_model_suffix(tx: Tx, tenant: str, model_name: str, suffix: str | None) -> list[DeploymentRow]:
    """This tenant's deployments of ``model_name`` under ``suffix`` (None: none), gone ones until a read."""
    rows = await tx.fetchall(
        f"SELECT {', '.join('d.' + c.strip() for c in _COLUMNS.split(','))} FROM deployment_options o "
        "JOIN deployments d ON d.seq = o.seq WHERE o.tenant = ? AND o.model_name = ? AND o.suffix IS ?",
        (tenant, model_name, suffix),
    )
    return [_row(r) for r in rows]


async def get_deployment(db: Database | Tx, tenant: str, deployed_model: str) -> DeploymentRow | None:
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM deployments WHERE tenant = ? AND deployed_model = ?", (tenant, deployed_model)
    )
    return None if row is None else _row(row)


async def find_by_name(db: Database, deployed_model: str) -> list[DeploymentRow]:
    """Every tenant's deployment of that name (the control plane knows names, not API keys)."""
    rows = await db.fetchall(f"SELECT {_COLUMNS} FROM deployments WHERE deployed_model = ?", (deployed_model,))
    return [_row(r) for r in rows]


async def list_deployments(db: Database, tenant: str, offset: int, limit: int) -> tuple[int, list[DeploymentRow]]:
    total = await read_counter(db, tenant, KIND)
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM deployments WHERE tenant = ? ORDER BY seq DESC LIMIT ? OFFSET ?",
        (tenant, limit, offset),
    )
    return total, [_row(r) for r in rows]


async def unsettled(db: Database | Tx, tenant: str) -> list[DeploymentRow]:
    """The tenant's deployments whose status or ready capacity may still move by itself."""
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM deployments WHERE tenant = ? AND NOT {_SETTLED} ORDER BY seq", (tenant,)
    )
    return [_row(r) for r in rows]


async def tenants_with_unsettled(db: Database) -> list[str]:
    return [r[0] for r in await db.fetchall(f"SELECT DISTINCT tenant FROM deployments WHERE NOT {_SETTLED}")]


async def of_job(tx: Tx, tenant: str, job_id: str) -> list[DeploymentRow]:
    rows = await tx.fetchall(f"SELECT {_COLUMNS} FROM deployments WHERE tenant = ? AND job_id = ?", (tenant, job_id))
    return [_row(r) for r in rows]


async def save_deployment(tx: Tx, d: DeploymentRow) -> None:
    s = d.schedule
    await tx.execute(
        "UPDATE deployments SET status = ?, capacity = ?, ready_capacity = ?, modified_at = ?, deploy_at = ?, "
        "running_at = ?, ready_base = ?, ready_base_at = ?, failed_at = ?, deleting_at = ?, message = ? WHERE seq = ?",
        (
            d.status.value,
            s.capacity,
            d.ready_capacity,
            d.modified_at,
            s.deploy_at,
            s.running_at,
            s.ready_base,
            s.ready_base_at,
            s.failed_at,
            s.deleting_at,
            d.message,
            d.seq,
        ),
    )


async def delete_deployment(tx: Tx, d: DeploymentRow) -> None:
    if await tx.execute("DELETE FROM deployments WHERE seq = ?", (d.seq,)):
        await bump_counter(tx, d.tenant, KIND, -1)
    await tx.execute("DELETE FROM deployment_options WHERE seq = ?", (d.seq,))


async def memory_of(db: Database, seq: int) -> list[tuple[str, str]]:
    raw = await db.fetchval("SELECT memory FROM deployments WHERE seq = ?", (seq,))
    return [(str(p[0]), str(p[1])) for p in json.loads(raw or "[]")]


async def wipe(tx: Tx, tenant: str | None) -> int:
    where, params = ("WHERE tenant = ?", (tenant,)) if tenant else ("", ())
    count = await tx.execute(f"DELETE FROM deployments {where}", params)
    await tx.execute(f"DELETE FROM deployment_options {where}", params)
    await wipe_counters(tx, tenant, KIND)
    return count
