"""the ERP gateway: circuit breakers per tenant and system, dead letters among record errors

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Records that failed this often were already shown as dead letters (the service's default threshold).
_DEAD_AFTER = 5


def upgrade() -> None:
    op.create_table(
        "circuit_breakers",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "system"),
    )
    with op.batch_alter_table("record_errors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dead", sa.Boolean(), server_default=sa.false(), nullable=False))
    record_errors = sa.table(
        "record_errors",
        sa.column("dead", sa.Boolean()),
        sa.column("resolved", sa.Boolean()),
        sa.column("attempts", sa.Integer()),
    )
    op.execute(
        record_errors.update()
        .where(record_errors.c.resolved.is_(False), record_errors.c.attempts >= _DEAD_AFTER)
        .values(dead=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("record_errors", schema=None) as batch_op:
        batch_op.drop_column("dead")
    op.drop_table("circuit_breakers")
