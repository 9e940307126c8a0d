"""SQLiteApplicationRecorder whose every insert also extends the log's hash chain.

The links are written in the library's own write transaction, after the events: by then the
transaction holds SQLite's write lock, so the chain head it reads is the latest and no other
writer can slip in between. Links go to `<events table>_chain` beside the events table.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from infra.chain.links import Link, extend, seal

SEAL_PAGE = 1000


class ChainedSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    def __init__(self, datastore: SQLiteDatastore,
                 events_table_name: str = "stored_events") -> None:
        self.chain_table_name = f"{events_table_name}_chain"
        super().__init__(datastore, events_table_name)
        self.originator_id_type = datastore.originator_id_type
        self.log_key = f"sqlite:{datastore.pool.db_name}/{events_table_name}"
        # Table names are the library's and ours, never input.
        chain, events = self.chain_table_name, events_table_name
        self.head_statement = ("SELECT notification_id, previous_id, hash "  # noqa: S608
                               f"FROM {chain} ORDER BY notification_id DESC LIMIT 1")
        self.insert_link_statement = f"INSERT INTO {chain} VALUES (?, ?, ?)"  # noqa: S608
        self.page_statement = (f"SELECT rowid, * FROM {events} WHERE rowid > ? "  # noqa: S608
                               "ORDER BY rowid LIMIT ?")
        self.links_statement = ("SELECT notification_id, previous_id, hash "  # noqa: S608
                                f"FROM {chain} WHERE notification_id > ? AND "
                                "notification_id <= ? ORDER BY notification_id LIMIT ?")
        self.max_link_statement = f"SELECT MAX(notification_id) FROM {chain}"  # noqa: S608

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        notification_ids = super()._insert_events(c, stored_events, **kwargs)
        if notification_ids:
            c.execute(self.head_statement)
            row = c.fetchone()
            head = Link(*row) if row else None
            self._insert_links(c, extend(head, notification_ids, stored_events,
                                         self.originator_id_type))
        return notification_ids

    def _insert_links(self, c: SQLiteCursor, links: Sequence[Link]) -> None:
        c.executemany(self.insert_link_statement,
                      [(link.notification_id, link.previous_id, link.hash) for link in links])

    # -- the side table --------------------------------------------------------------------

    def create_table(self) -> None:
        super().create_table()
        if self._chain_exists():
            return
        with self._immediate() as c:
            if self._chain_exists(c):
                return
            c.execute(f"CREATE TABLE {self.chain_table_name} (notification_id INTEGER "
                      "PRIMARY KEY, previous_id INTEGER NOT NULL, hash TEXT NOT NULL)")
            for links in seal(self._pages(c), self.originator_id_type):
                self._insert_links(c, links)

    @contextmanager
    def _immediate(self) -> Iterator[SQLiteCursor]:
        """A write transaction that takes the write lock at BEGIN: sealing reads the events
        first, and a deferred transaction could not then upgrade past another writer."""
        with self.datastore.get_connection(commit=True) as conn:
            c = conn.cursor()
            c.execute("BEGIN IMMEDIATE")
            try:
                yield c
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def _chain_exists(self, c: SQLiteCursor | None = None) -> bool:
        query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        if c is not None:
            c.execute(query, (self.chain_table_name,))
            return c.fetchone() is not None
        with self.datastore.transaction(commit=False) as own:
            own.execute(query, (self.chain_table_name,))
            return own.fetchone() is not None

    def _pages(self, c: SQLiteCursor) -> Iterator[list[Notification]]:
        """Every stored event in notification order, read inside the sealing transaction."""
        after = 0
        while True:
            c.execute(self.page_statement, (after, SEAL_PAGE))
            page = [Notification(id=row["rowid"],
                                 originator_id=self.convert_originator_id(row["originator_id"]),
                                 originator_version=row["originator_version"],
                                 topic=row["topic"], state=row["state"])
                    for row in c.fetchall()]
            if not page:
                return
            yield page
            after = page[-1].id

    # -- reading, for the verifier -----------------------------------------------------------

    def select_links(self, after: int, upto: int, limit: int) -> list[Link]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.links_statement, (after, upto, limit))
            return [Link(*row) for row in c.fetchall()]

    def max_link_id(self) -> int | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self.max_link_statement)
            head: int | None = c.fetchone()[0]
            return head
