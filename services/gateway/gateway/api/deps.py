"""Dependencies of the routes: the database session, the current user, the internal services."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..adapters.internal import InternalServices
from ..db.tables import users
from ..security import decode_access_token
from ..settings import GatewaySettings
from .problems import ProblemError

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


@dataclass(frozen=True)
class CurrentUserInfo:
    id: uuid.UUID
    email: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def get_settings(request: Request) -> GatewaySettings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.runtime.sessions() as session:
        yield session


def get_services(request: Request) -> InternalServices:
    return request.app.state.services  # type: ignore[no-any-return]


SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
ServicesDep = Annotated[InternalServices, Depends(get_services)]


def unauthorized(detail: str = "missing or invalid credentials") -> ProblemError:
    return ProblemError(401, "unauthorized", "Not authenticated", detail,
                        headers={"WWW-Authenticate": "Bearer"})


async def get_current_user(
    request: Request, settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2)],
) -> CurrentUserInfo:
    if not token:
        raise unauthorized()
    claims = decode_access_token(token, settings.jwt_secret.get_secret_value())
    if claims is None:
        raise unauthorized("invalid or expired access token")
    try:
        user_id = uuid.UUID(str(claims.get("sub")))
    except ValueError:
        raise unauthorized() from None
    # Its own short session: the route's session stays free for the route's own transaction.
    async with request.app.state.runtime.sessions() as session:
        row = (await session.execute(select(users).where(users.c.id == user_id))).first()
    if row is None or row.disabled:
        raise unauthorized("account unknown or disabled")
    user = CurrentUserInfo(row.id, row.email, row.role)
    request.state.user = user
    return user


CurrentUser = Annotated[CurrentUserInfo, Depends(get_current_user)]
