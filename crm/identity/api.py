"""Identity endpoints: who am I."""

from ninja import Router

from crm.identity.http import AuthedRequest
from crm.identity.schemas import MeOut

router = Router(tags=["identity"])


@router.get("/me", response=MeOut, summary="The authenticated user")
def me(request: AuthedRequest) -> MeOut:
    user = request.user
    return MeOut(
        id=user.pk,
        username=user.username,
        display_name=str(user),
        department=user.department.name if user.department else None,
        team=user.team.name if user.team else None,
        role=user.role.code if user.role else None,
        is_superuser=user.is_superuser,
    )


ROUTERS = [("", router)]
