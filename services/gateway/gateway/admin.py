"""`python -m gateway.admin promote EMAIL` (or `demote EMAIL`): change a registered account's role.

The only way to make an admin (the first one included), with the gateway's DATABASE_URL: an
operator who can reach the database vouches for the account. Registering never makes an admin,
as nothing proves that whoever registers an email owns it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from sqlalchemy import update

from av_shared.db import create_engine, create_session_factory

from .db.tables import SCHEMA, users
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.admin", description=__doc__)
    parser.add_argument(
        "action",
        choices=["promote", "demote"],
        help="promote: make an admin; demote: back to a seller (user)",
    )
    parser.add_argument("email", help="the email the account registered with")
    args = parser.parse_args(argv)
    role = "admin" if args.action == "promote" else "user"
    if not asyncio.run(set_role(GatewaySettings().database_url, args.email, role)):
        print(f"no account with email {args.email}; register it first", file=sys.stderr)
        return 1
    print(f"{args.email} is now {role}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
