"""SQL for the dashboard's own reads: the tenants seen so far, with how much each one holds."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from emulator.db import Database
from emulator.tenants import Tenant

_ACTIVE = "('PENDING', 'QUEUING', 'RUNNING', 'CANCELING')"
_SELECT = (
    "SELECT t.id, t.key_hint, t.workspace, t.account_id, t.created_at,"
    " (SELECT count(*) FROM files f WHERE f.tenant = t.id) AS files,"
    " (SELECT count(*) FROM fine_tunes j WHERE j.tenant = t.id) AS jobs,"
    f" (SELECT count(*) FROM fine_tunes j WHERE j.tenant = t.id AND j.status IN {_ACTIVE}) AS active_jobs,"
    " (SELECT count(*) FROM deployments d WHERE d.tenant = t.id) AS deployments"
    " FROM tenants t"
)


@dataclass(frozen=True)
class TenantRecord:
    id: str
    key_hint: str
    workspace: str
    account_id: str
    created_at: float
    files: int
    jobs: int
    active_jobs: int
    deployments: int

    @property
    def explicit_workspace(self) -> bool:
        return ":" in self.id

    def as_tenant(self) -> Tenant:
        """The services' view of this tenant: only the key's id (``api_key_id``) is unknown without the key."""
        return Tenant(
            id=self.id,
            key_hint=self.key_hint,
            workspace=self.workspace,
            account_id=self.account_id,
            api_key_id="",
            explicit_workspace=self.explicit_workspace,
        )


def _record(row: sqlite3.Row) -> TenantRecord:
    values = {key: row[key] for key in row.keys()}
    if " #" not in values["key_hint"]:  # a tenant recorded before labels had a fingerprint: the id's start is one
        values["key_hint"] = f"{values['key_hint']} #{str(values['id'])[:6]}"
    return TenantRecord(**values)


async def list_tenants(db: Database) -> list[TenantRecord]:
    return [_record(r) for r in await db.fetchall(f"{_SELECT} ORDER BY t.created_at, t.id")]


async def get_tenant(db: Database, tenant_id: str) -> TenantRecord | None:
    row = await db.fetchone(f"{_SELECT} WHERE t.id = ?", (tenant_id,))
    return None if row is None else _record(row)


@dataclass(frozen=True)
class DeploymentLine:
    """A deployment as the landing page lists it: the columns every build's deployments table has."""

    name: str
    tenant: str
    model: str
    status: str
    capacity: int
    ready: int
    updated_at: float


async def recent_jobs(db: Database, limit: int) -> list[tuple[str, str]]:
    """The newest fine-tunes across tenants, as (job_id, tenant): the primary key's order, so O(limit)."""
    rows = await db.fetchall("SELECT job_id, tenant FROM fine_tunes ORDER BY seq DESC LIMIT ?", (limit,))
    return [(r["job_id"], r["tenant"]) for r in rows]


async def recent_deployment_tenants(db: Database, limit: int) -> list[str]:
    rows = await db.fetchall("SELECT tenant FROM deployments ORDER BY seq DESC LIMIT ?", (limit,))
    return list(dict.fromkeys(r["tenant"] for r in rows))


async def recent_deployments(db: Database, limit: int) -> list[DeploymentLine]:
    """The newest deployments across tenants (their stored status: bring the tenants up to date first)."""
    rows = await db.fetchall(
        "SELECT deployed_model, tenant, model_name, status, capacity, ready_capacity, modified_at"
        " FROM deployments ORDER BY seq DESC LIMIT ?",
        (limit,),
    )
    return [DeploymentLine(*(r[key] for key in r.keys())) for r in rows]
