"""Triggers that NOTIFY `gateway_auth` with the user's id when an account, a login or an API key
changes: gateway instances forget what they cached of that user (gateway.auth_cache)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 05:00:00
"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION gateway.notify_auth_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    row_data record;
BEGIN
    IF TG_OP = 'DELETE' THEN row_data := OLD; ELSE row_data := NEW; END IF;
    IF TG_TABLE_NAME = 'users' THEN
        PERFORM pg_notify('gateway_auth', row_data.id::text);
    ELSE
        PERFORM pg_notify('gateway_auth', row_data.user_id::text);
        IF TG_OP = 'UPDATE' AND OLD.user_id IS DISTINCT FROM NEW.user_id THEN
            PERFORM pg_notify('gateway_auth', OLD.user_id::text);
        END IF;
    END IF;
    RETURN NULL;
END $$;
"""
TRIGGERS = [
    ("users_auth_change", "users", "UPDATE OR DELETE", ""),
    ("auth_sessions_auth_change", "auth_sessions", "UPDATE OR DELETE", ""),
    ("api_keys_auth_delete", "api_keys", "DELETE", ""),
    # Not last_used_at (written once a minute per key): only what decides whether the key works.
    ("api_keys_auth_change", "api_keys", "UPDATE",
     "WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at"
     " OR OLD.expires_at IS DISTINCT FROM NEW.expires_at"
     " OR OLD.key_hash IS DISTINCT FROM NEW.key_hash"
     " OR OLD.user_id IS DISTINCT FROM NEW.user_id)"),
]


def upgrade() -> None:
    op.execute(FUNCTION)
    for name, table, events, when in TRIGGERS:
        op.execute(f"CREATE TRIGGER {name} AFTER {events} ON gateway.{table} FOR EACH ROW "
                   f"{when} EXECUTE FUNCTION gateway.notify_auth_change()")


def downgrade() -> None:
    for name, table, _events, _when in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON gateway.{table}")
    op.execute("DROP FUNCTION IF EXISTS gateway.notify_auth_change()")
