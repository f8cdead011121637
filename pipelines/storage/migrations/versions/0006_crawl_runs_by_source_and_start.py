"""crawl runs indexed by source and start time

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-14 10:00:00

A source polled every minute leaves 43,000 runs in the 30 days they are kept. Its health (the
last three runs), its last run and its polling rhythm (the runs of the last week) were found
through an index on `source_id` alone, so each read every run of the source and sorted them:
on PostgreSQL, whose index entries are not in `id` order, about 10 ms a source, for every
source on every `sources` or digest, and after every round in the daemon. An index on
(source_id, started_at) answers "the newest runs of this source" and "its runs since a time"
by reading only those rows; it also serves every look-up by `source_id` alone, so the old index
goes.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_crawl_runs_source_started", "crawl_runs", ["source_id", "started_at"])
    op.drop_index("ix_crawl_runs_source_id", table_name="crawl_runs")


def downgrade() -> None:
    op.create_index("ix_crawl_runs_source_id", "crawl_runs", ["source_id"])
    op.drop_index("ix_crawl_runs_source_started", table_name="crawl_runs")
