"""`python -m gateway.admin promote EMAIL` (or `demote EMAIL`): change a registered account's role;
`python -m gateway.admin invite [EMAIL]`: print an invite code (registration mode `invite`, the
default in production: how the first account, the operator's own, gets registered).

The only way to make an admin (the first one included), with the gateway's DATABASE_URL: an
operator who can reach the database vouches for the account. Registering never makes an admin,
as nothing proves that whoever registers an email owns it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta

from sqlalchemy import update

from av_shared.db import create_engine, create_session_factory

from .db.tables import SCHEMA, users
from .invites import create_invite
from .settings import GatewaySettings


async def set_role(database_url: str, email: str, role: str) -> bool:
    engine = create_engine(database_url, schema=SCHEMA, pool_size=1, app_name="gateway:admin")
    try:
        async with create_session_factory(engine)() as session, session.begin():
            changed = (
                await session.execute(
                    update(users)
                    .where(users.c.email == email.lower())
                    .values(role=role)
                    .returning(users.c.id)
                )
            ).first()
        return changed is not None
    finally:
        await engine.dispose()


async def issue_invite(settings: GatewaySettings, email: str | None) -> str:
    engine = create_engine(
        settings.database_url, schema=SCHEMA, pool_size=1, app_name="gateway:admin"
    )
    try:
        async with create_session_factory(engine)() as session, session.begin():
            invite = await create_invite(
                session, None, timedelta(days=settings.invite_days), None, email
            )
        return invite.code
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.admin", description=__doc__)
    parser.add_argument(
        "action",
        choices=["promote", "demote", "invite"],
        help="promote: make an admin; demote: back to a seller (user); invite: print a code",
    )
    parser.add_argument(
        "email", nargs="?", help="the account's email (invite: optional, the only one it admits)"
    )
    args = parser.parse_args(argv)
    if args.action == "invite":
        print(asyncio.run(issue_invite(GatewaySettings(), args.email)))
        return 0
    if not args.email:
        parser.error("promote and demote need the account's email")
    role = "admin" if args.action == "promote" else "user"
    if not asyncio.run(set_role(GatewaySettings().database_url, args.email, role)):
        print(f"no account with email {args.email}; register it first", file=sys.stderr)
        return 1
    print(f"{args.email} is now {role}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
