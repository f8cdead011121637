"""article_bands: the near-duplicate index in the store, filled for the stored articles

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09 10:00:00

Every stored article gets its band rows, a batch of articles at a time, so a large database
migrates in bounded memory. An article whose signature is missing or of an older
SIGNATURE_VERSION is re-signed from its text first (the crawl process used to do that at every
start); one with too little story for a signature gets the empty one and no bands. The rows
gather in a temporary table and go into the index in key order at the end: appended in order,
the B-tree is built in one pass and packed full, where 42 rows per article landing at random
places would read and split pages all the way.
"""

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BATCH = 2_000  # articles per read: about 1 MB of signatures and 84k band rows

_articles = sa.table("articles", sa.column("id", sa.Integer), sa.column("text", sa.Text),
                     sa.column("minhash", sa.LargeBinary))
_staged = sa.table("article_bands_staged", sa.column("key", sa.BigInteger),
                   sa.column("article_id", sa.Integer))


def upgrade() -> None:
    op.create_table(
        "article_bands",
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"]),
        sa.PrimaryKeyConstraint("key", "article_id"),
        sqlite_with_rowid=False,
    )
    fill_bands(op.get_bind())


def downgrade() -> None:
    op.drop_table("article_bands")


def fill_bands(connection: sa.Connection, batch: int = BATCH) -> int:
    """Insert the band rows of every stored article; returns how many articles were re-signed."""
    connection.execute(sa.text("CREATE TEMPORARY TABLE article_bands_staged "
                               "(key BIGINT NOT NULL, article_id INTEGER NOT NULL)"))
    resigned = _stage(connection, batch)
    connection.execute(sa.text("INSERT INTO article_bands (key, article_id) SELECT key, article_id "
                               "FROM article_bands_staged ORDER BY key, article_id"))
    connection.execute(sa.text("DROP TABLE article_bands_staged"))
    return resigned


def _stage(connection: sa.Connection, batch: int) -> int:
    # The current band scheme and signature, not a frozen copy: rows banded any other way would
    # never meet the rows the running code stores.
    from pipelines.dedupe.near_duplicates import band_keys, current_values
    from pipelines.dedupe.shingles import is_empty, to_bytes

    last, resigned = 0, 0
    while True:
        rows = connection.execute(sa.select(_articles.c.id, _articles.c.minhash)
                                  .where(_articles.c.id > last).order_by(_articles.c.id)
                                  .limit(batch)).all()
        if not rows:
            return resigned
        last = rows[-1].id
        signed = {row.id: current_values(row.minhash) for row in rows}
        stale = [article_id for article_id, values in signed.items() if values is None]
        if stale:
            from pipelines.dedupe.minhash import signature  # datasketch: only when rows need it

            for article_id, text in connection.execute(
                    sa.select(_articles.c.id, _articles.c.text).where(_articles.c.id.in_(stale))).all():
                signed[article_id] = signature(text or "")
                connection.execute(_articles.update().where(_articles.c.id == article_id)
                                   .values(minhash=to_bytes(signed[article_id])))
            resigned += len(stale)
        ids = [article_id for article_id, values in signed.items()
               if values is not None and not is_empty(values)]
        if not ids:
            continue
        keys = band_keys(np.stack([signed[article_id] for article_id in ids]))
        connection.execute(sa.insert(_staged), [
            {"key": key, "article_id": ids[i // keys.shape[1]]}
            for i, key in enumerate(keys.ravel().tolist())])

