"""Wire shapes of /api/v1/deployments (reference §5), as the seed shows them."""

from __future__ import annotations

from typing import Literal

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


class ForceStatusRequest(WireModel):
    """Control plane: move a deployment along the transition table.  ``api_key`` (+ ``workspace``) or ``tenant``
    pick the tenant when two tenants deployed the same name."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["DEPLOYING", "RUNNING", "FAILED", "DELETING"]
    message: str | None = Field(None, max_length=1000)
    api_key: str | None = None
    workspace: str | None = None
    tenant: str | None = None
