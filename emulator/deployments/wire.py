"""Deployment wire objects built from stored rows, next to their schemas (routes and the control plane use them)."""

from __future__ import annotations

from emulator.clock import fmt_deploy_time
from emulator.deployments.schemas import DeploymentObject
from emulator.deployments.store import DeploymentRow


def deployment_object(row: DeploymentRow) -> DeploymentObject:
    return DeploymentObject(
        deployed_model=row.deployed_model,
        gmt_create=fmt_deploy_time(row.schedule.created_at),
        gmt_modified=fmt_deploy_time(row.modified_at),
        status=row.status.value,
        model_name=row.model_name,
        base_model=row.base_model,
        base_capacity=row.base_capacity,
        capacity=row.capacity,
        ready_capacity=row.ready_capacity,
        workspace_id=row.workspace_id,
        charge_type=row.charge_type,
        creator=row.creator,
        modifier=row.creator,
        plan=row.plan,
        model_unit_spec=row.options.model_unit_spec if row.options is not None else None,
    )
