"""Wire shapes of /api/v1/deployments (reference §5), as the seed shows them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from emulator.wire import WireModel


class CreateDeploymentRequest(WireModel):
    """The create body; unknown keys are ignored.  ``plan`` is optional here although the 2.0.2 CLI requires it."""

    model_config = ConfigDict(extra="ignore")

    model_name: str = Field(min_length=1, max_length=256)
    capacity: int | None = Field(None, strict=True, description="Units, 1 to the per-deployment limit (32); default 1.")
    suffix: str | None = Field(None, max_length=64)
    plan: str | None = Field(None, max_length=32)
    model_version: str | None = Field(None, max_length=64)
    template_id: str | None = Field(None, max_length=128)
    deploy_spec: str | dict[str, Any] | None = Field(
        None, description='plan mu only: a model unit spec such as "MU1" (or a dps-... id), or the v2 client\'s object.'
    )
    billing_method: str | None = Field(None, max_length=32, description='plan mu only; only "POST_PAY".')
    name: str | None = Field(None, max_length=128, description="Display name (the SDKs never send it).")


class ScaleRequest(WireModel):
    """The SDKs send ``{"deployed_model", "capacity"}``; the docs' curl sends ``{"capacity"}``."""

    model_config = ConfigDict(extra="ignore")

    capacity: int | None = Field(None, strict=True)
    deployed_model: str | None = Field(None, max_length=256)


class DeploymentObject(WireModel):
    deployed_model: str
    gmt_create: str
    gmt_modified: str
    status: str
    model_name: str
    base_model: str
    base_capacity: int
    capacity: int
    ready_capacity: int
    workspace_id: str
    charge_type: str
    creator: str
    modifier: str
    plan: str | None = None
    model_unit_spec: str | None = Field(None, description="plan mu: the deploy_spec's model unit spec.")


class DeploymentList(WireModel):
    deployments: list[DeploymentObject]
    page_no: int
    page_size: int
    total: int


class DeployableModel(WireModel):
    model_name: str
    base_capacity: int


class DeployableModelList(WireModel):
    models: list[DeployableModel]
    page_no: int
    page_size: int
    total: int


class Template(WireModel):
    template_id: str
    template_name: str
    template_type: str
    template_version: str
    template_desc: str
    charge_type: str
    roles: dict[str, dict[str, Any]]


class PlanEntry(WireModel):
    plan: str
    charge_type: str | None = None
    templates: list[Template] | None = None


class DeployableModelV1(WireModel):
    """``GET /deployments/models?version=v1.0`` (2026 docs): the plans a model can be deployed under."""

    model_name: str
    plans: list[PlanEntry]


class DeployableModelListV1(WireModel):
    models: list[DeployableModelV1]
    page_no: int
    page_size: int
    total: int


class DeployableModelPage(WireModel):
    """The documented answer of ``/deployments/models``: the flat items, or the v1.0 ones with ``version=v1.0``."""

    models: list[DeployableModel | DeployableModelV1]
    page_no: int
    page_size: int
    total: int


class DeploymentEvent(WireModel):
    """One ``/deployments/{id}/stream`` event: a status snapshot."""

    deployed_model: str
    status: str
    capacity: int
    ready_capacity: int
    gmt_modified: str


class ForceStatusRequest(WireModel):
    """Control plane: move a deployment along the transition table.  ``api_key`` (+ ``workspace``) or ``tenant``
    pick the tenant when two tenants deployed the same name."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["DEPLOYING", "RUNNING", "FAILED", "DELETING"]
    message: str | None = Field(None, max_length=1000)
    api_key: str | None = None
    workspace: str | None = None
    tenant: str | None = None
