"""ingestion schema: customers, addresses, products, variants, orders, lines, cursors, keys, redactions

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shopify_customer_addresses",
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("address_id", sa.BigInteger(), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=True),
        sa.Column("province_code", sa.String(length=10), nullable=True),
        sa.Column("pii", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "customer_id", "position"),
    )
    op.create_table(
        "shopify_customers",
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("shopify_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("verified_email", sa.Boolean(), nullable=True),
        sa.Column("tax_exempt", sa.Boolean(), nullable=True),
        sa.Column("tags", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("email_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("pii", sa.LargeBinary(), nullable=True),
        sa.Column("content_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "shopify_id"),
    )
    with op.batch_alter_table("shopify_customers", schema=None) as batch_op:
        batch_op.create_index("ix_shopify_customers_email_hash", ["tenant", "email_hash"], unique=False)

    op.create_table(
        "shopify_data_keys",
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("master_key_id", sa.String(length=16), nullable=True),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rewrapped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant"),
    )
    op.create_table(
        "shopify_order_lines",
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("shopify_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("variant_title", sa.Text(), nullable=True),
        sa.Column("sku", sa.Text(), nullable=True),
        sa.Column("vendor", sa.Text(), nullable=True),
        sa.Column("product_id", sa.BigInteger(), nullable=True),
        sa.Column("variant_id", sa.BigInteger(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("total_discount", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "shopify_id"),
    )
    with op.batch_alter_table("shopify_order_lines", schema=None) as batch_op:
        batch_op.create_index("ix_shopify_order_lines_order", ["tenant", "order_id"], unique=False)

    op.create_table(
        "shopify_orders",
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("shopify_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("total_price", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("subtotal_price", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("total_tax", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("total_discounts", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("financial_status", sa.Text(), nullable=True),
        sa.Column("fulfillment_status", sa.Text(), nullable=True),
        sa.Column("test", sa.Boolean(), nullable=True),
        sa.Column("tags", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("content_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "shopify_id"),
    )
    with op.batch_alter_table("shopify_orders", schema=None) as batch_op:
        batch_op.create_index("ix_shopify_orders_customer", ["tenant", "customer_id"], unique=False)
        batch_op.create_index("ix_shopify_orders_processed_at", ["tenant", "processed_at"], unique=False)

    op.create_table(
        "shopify_products",
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("shopify_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("handle", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("vendor", sa.Text(), nullable=True),
        sa.Column("product_type", sa.Text(), nullable=True),
        sa.Column("tags", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("content_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "shopify_id"),
    )
    op.create_table(
        "shopify_redactions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("data_key_id", sa.String(length=16), nullable=True),
        sa.Column("rows", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("shopify_redactions", schema=None) as batch_op:
        batch_op.create_index("ix_shopify_redactions_tenant", ["tenant", "customer_id"], unique=False)

    op.create_table(
        "shopify_sync_cursors",
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("object", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "object"),
    )
    op.create_table(
        "shopify_variants",
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("shopify_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("sku", sa.Text(), nullable=True),
        sa.Column("barcode", sa.Text(), nullable=True),
        sa.Column("price", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("compare_at_price", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("inventory_quantity", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("options", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "shopify_id"),
    )
    with op.batch_alter_table("shopify_variants", schema=None) as batch_op:
        batch_op.create_index("ix_shopify_variants_product", ["tenant", "product_id"], unique=False)
        batch_op.create_index("ix_shopify_variants_sku", ["tenant", "sku"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("shopify_variants", schema=None) as batch_op:
        batch_op.drop_index("ix_shopify_variants_sku")
        batch_op.drop_index("ix_shopify_variants_product")

    op.drop_table("shopify_variants")
    op.drop_table("shopify_sync_cursors")
    with op.batch_alter_table("shopify_redactions", schema=None) as batch_op:
        batch_op.drop_index("ix_shopify_redactions_tenant")

    op.drop_table("shopify_redactions")
    op.drop_table("shopify_products")
    with op.batch_alter_table("shopify_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_shopify_orders_processed_at")
        batch_op.drop_index("ix_shopify_orders_customer")

    op.drop_table("shopify_orders")
    with op.batch_alter_table("shopify_order_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_shopify_order_lines_order")

    op.drop_table("shopify_order_lines")
    op.drop_table("shopify_data_keys")
    with op.batch_alter_table("shopify_customers", schema=None) as batch_op:
        batch_op.drop_index("ix_shopify_customers_email_hash")

    op.drop_table("shopify_customers")
    op.drop_table("shopify_customer_addresses")
