"""Accounts and tokens: register, then log in with the OAuth2 password flow."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from ..db.tables import users
from ..security import create_access_token, hash_password, verify_password
from .deps import CurrentUser, SessionDep, SettingsDep, unauthorized
from .problems import ProblemError

router = APIRouter(prefix="/api/v1", tags=["auth"])


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: str = Field(min_length=8, max_length=256)


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    role: str


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


@router.post("/auth/register", status_code=201, response_model=UserOut)
async def register(body: RegisterIn, session: SessionDep) -> UserOut:
    user_id = uuid.uuid4()
    email = body.email.lower()
    async with session.begin():
        created = (await session.execute(
            insert(users).values(id=user_id, email=email,
                                 password_hash=hash_password(body.password))
            .on_conflict_do_nothing(index_elements=["email"]).returning(users.c.id)
        )).first()
    if created is None:
        raise ProblemError(409, "email-taken", "Email already registered",
                           "an account with this email exists; log in instead")
    return UserOut(id=user_id, email=email, role="user")


@router.post("/auth/token", response_model=TokenOut)
async def token(
    username: Annotated[str, Form(max_length=320)], password: Annotated[str, Form(max_length=256)],
    session: SessionDep, settings: SettingsDep,
) -> TokenOut:
    row = (await session.execute(select(users).where(users.c.email == username.lower()))).first()
    if row is None or row.disabled or not verify_password(row.password_hash, password):
        raise unauthorized("wrong email or password")
    minutes = settings.access_token_minutes
    access = create_access_token(row.id, row.role, settings.jwt_secret.get_secret_value(), minutes)
    return TokenOut(access_token=access, expires_in=minutes * 60)


@router.get("/users/me", response_model=UserOut)
async def me(user: CurrentUser) -> UserOut:
    return UserOut(id=user.id, email=user.email, role=user.role)
