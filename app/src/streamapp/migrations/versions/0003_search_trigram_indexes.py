"""Trigram indexes for the catalog search (ILIKE '%q%' on title and description).

A leading-wildcard ILIKE cannot use a B-tree: without these every search read the whole
table. pg_trgm's GIN operator class serves LIKE/ILIKE for patterns of 3 characters or more (the
API refuses shorter searches). pg_trgm is a trusted extension (PostgreSQL 13+, RDS included):
the database owner may create it.

Revision ID: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in ("title", "description"):
        op.execute(
            f"CREATE INDEX ix_media_items_{column}_trgm ON media_items"
            f" USING gin ({column} gin_trgm_ops)"
        )


def downgrade() -> None:
    for column in ("title", "description"):
        op.drop_index(f"ix_media_items_{column}_trgm", table_name="media_items")
