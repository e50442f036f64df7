"""API shapes of identity objects."""

from ninja import Schema


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    department: str | None
    team: str | None
    role: str | None
    is_superuser: bool
