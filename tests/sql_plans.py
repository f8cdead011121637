"""What SQL the store sends, and how the engine would run it: for tests that an index answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import event

if TYPE_CHECKING:
    from pipelines.storage.store import Store


class statements:  # a context manager, named like the function it stands for
    """Every SQL statement the store's engine runs inside the block (with parameters if asked)."""

    def __init__(self, store: Store, params: bool = False) -> None:
        self.engine, self.params, self.seen = store.engine, params, []

    def _record(self, conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        self.seen.append((statement, parameters) if self.params else statement)

    def __enter__(self) -> list[Any]:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self.seen

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


def explain(store: Store, sql: str, params: Any, off: tuple[str, ...] = ("seqscan",)) -> str:
    """The engine's plan for one statement, one line per step.

    On a test's few rows PostgreSQL would rather scan the table, so sequential scans (and any
    other plan types named in `off`) are turned off there: the plan then says whether an index can
    answer at all.
    """
    with store.engine.connect() as connection:
        if store.engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
            return "\n".join(row[-1] for row in rows)
        for kind in off:
            connection.exec_driver_sql(f"SET enable_{kind} = off")
        return "\n".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + sql, params))
