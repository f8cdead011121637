"""digests keep the HTML and plain text they were mailed with

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-12 10:00:00

The web view's digest archive shows each digest as it was mailed. A digest row used to keep no
body (it was rendered again from its items at each attempt), and rendering it again later would
show today's best copy of each story, today's labels and today's links. So the body that the
server accepted is stored with the row. Digests sent before this revision have none; the archive
renders those again from their items and says so.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both engines: a rebuilt table (batch mode) would rewrite every row.
    op.add_column("digests", sa.Column("html", sa.Text(), nullable=True))
    op.add_column("digests", sa.Column("text", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("digests") as batch:
        batch.drop_column("text")
        batch.drop_column("html")
