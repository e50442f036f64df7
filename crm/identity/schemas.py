"""API shapes of identity objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Field, Schema
from pydantic import ConfigDict


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    department: str | None
    team: str | None
    role: str | None
    is_superuser: bool


class StrictIn(Schema):
    model_config = ConfigDict(extra="forbid")


class TokenExchangeIn(StrictIn):
    username: str = Field(max_length=150)
    password: str = Field(max_length=1024)
    totp_code: str | None = Field(default=None, max_length=12)
    name: str = Field(default="API", max_length=100)
    expires_days: int | None = Field(default=30, ge=1, le=3650)


class TokenIn(StrictIn):
    name: str = Field(max_length=100)
    expires_at: datetime | None = None
    expires_days: int | None = Field(default=None, ge=1, le=3650)
    scopes: list[str] = Field(default_factory=list, max_length=200)


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    user_id: int
    username: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    usable: bool


class TokenCreatedOut(TokenOut):
    token: str  # shown this once; only its hash is stored


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    first_name: str
    last_name: str
    email: str
    department_id: int | None
    department: str | None
    team_id: int | None
    team: str | None
    role_id: int | None
    role: str | None
    manager_of_id: int | None
    is_active: bool
    is_superuser: bool
    two_factor: bool
    language: str
    time_zone: str
    last_login: datetime | None
    date_joined: datetime
    version: int


class UserIn(StrictIn):
    username: str = Field(max_length=150)
    password: str | None = Field(default=None, max_length=1024)
    email: str = Field(default="", max_length=254)
    display_name: str = Field(default="", max_length=150)
    first_name: str = Field(default="", max_length=150)
    last_name: str = Field(default="", max_length=150)
    department_id: int | None = None
    team_id: int | None = None
    role_id: int | None = None
    manager_of_id: int | None = None
    language: str = Field(default="", max_length=10)
    time_zone: str = Field(default="", max_length=64)
    is_superuser: bool = False


class UserPatch(StrictIn):
    version: int | None = None
    email: str | None = Field(default=None, max_length=254)
    display_name: str | None = Field(default=None, max_length=150)
    first_name: str | None = Field(default=None, max_length=150)
    last_name: str | None = Field(default=None, max_length=150)
    department_id: int | None = None
    team_id: int | None = None
    role_id: int | None = None
    manager_of_id: int | None = None
    language: str | None = Field(default=None, max_length=10)
    time_zone: str | None = Field(default=None, max_length=64)
    is_superuser: bool | None = None
    is_active: bool | None = None


class PasswordIn(StrictIn):
    password: str = Field(max_length=1024)


class DepartmentOut(Schema):
    id: int
    name: str
    code: str
    version: int


class DepartmentIn(StrictIn):
    name: str = Field(max_length=100)
    code: str = Field(default="", max_length=40)


class DepartmentPatch(StrictIn):
    version: int | None = None
    name: str | None = Field(default=None, max_length=100)
    code: str | None = Field(default=None, max_length=40)


class TeamOut(Schema):
    id: int
    name: str
    department_id: int
    department: str
    version: int


class TeamIn(StrictIn):
    name: str = Field(max_length=100)
    department_id: int


class TeamPatch(StrictIn):
    version: int | None = None
    name: str | None = Field(default=None, max_length=100)
    department_id: int | None = None


class RoleOut(Schema):
    id: int
    name: str
    code: str
    description: str
    is_builtin: bool
    # {"customers.customer": {"view": "all", "change": "own"}}
    grants: dict[str, dict[str, str]]
    # {"customers.customer": {"phone": "hidden"}}
    field_rules: dict[str, dict[str, str]]
    version: int


class RoleIn(StrictIn):
    name: str = Field(max_length=100)
    code: str = Field(default="", max_length=40)
    description: str = Field(default="", max_length=300)
    grants: dict[str, dict[str, Any]] = Field(default_factory=dict)
    field_rules: dict[str, dict[str, Any]] = Field(default_factory=dict)


class RolePatch(StrictIn):
    version: int | None = None
    name: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=300)
    grants: dict[str, dict[str, Any]] | None = None
    field_rules: dict[str, dict[str, Any]] | None = None
