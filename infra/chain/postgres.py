"""PostgresApplicationRecorder whose every insert also extends the log's hash chain.

The library inserts events in one transaction that holds `LOCK TABLE … IN EXCLUSIVE MODE` on
the events table, so reading the chain's head and inserting the new links in that same
transaction makes chain order equal commit order. Links go to the side table
`<events table>_chain`, created with the events table; notification ids may have gaps (a
rolled-back insert burns sequence values), so a link names the previous *stored* event.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from infra.chain.links import Link, extend, seal
from infra.group_commit import GroupCommit
from infra.pg_outage import guard
from infra.pg_ping import check_when_idle

SEAL_PAGE = 1000


class ChainedPostgresApplicationRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *,
                 events_table_name: str = "stored_events") -> None:
        guard(datastore)  # an outage answers at once, not after eventsourcing's retries
        check_when_idle(datastore)  # no ping round trip before each load and append
        super().__init__(datastore, events_table_name=events_table_name)
        self.chain_table_name = f"{events_table_name}_chain"
        self.check_identifier_length(self.chain_table_name)
        self.originator_id_type = datastore.originator_id_type
        params: dict[str, object] = datastore.pool.kwargs  # type: ignore[assignment]
        self.log_key = (f"postgres://{params.get('host')}:{params.get('port')}/"
                        f"{params.get('dbname')}/{datastore.schema}.{events_table_name}")
        self.group_commit = GroupCommit(super().insert_events)
        # The library's insert sends one array of a composite type, which psycopg dumps in
        # Python (about 50 us an event); four arrays of plain values cost less, and sent in
        # binary (`%b`) less again: in text each state is hex-escaped and quoted with regular
        # expressions (17-27 us an event of client CPU against 3-4 us in binary).
        self.insert_events_statement = self._sql(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::{id_type}[], %b::integer[], %b::text[], %b::bytea[]) "
            "RETURNING notification_id", id_type=self.originator_id_type)

    def insert_events(self, stored_events: Sequence[StoredEvent],
                      **kwargs: Any) -> Sequence[int] | None:
        """Concurrent appends share one transaction (infra/group_commit.py); an append with
        more to write in its transaction (a tracking record) goes alone. `Application.save`
        always passes `tracking`, None unless a process application records its position."""
        if any(value is not None for value in kwargs.values()) or not stored_events:
            return super().insert_events(stored_events, **kwargs)
        return self.group_commit.submit(stored_events)

    def _sql(self, template: str, **names: str) -> Composed:
        return SQL(template).format(schema=Identifier(self.datastore.schema),
                                    chain=Identifier(self.chain_table_name),
                                    table=Identifier(self.events_table_name),
                                    **{key: Identifier(name) for key, name in names.items()})

    def _insert_stored_events(self, curs: Cursor[DictRow],
                              stored_events: Sequence[StoredEvent], **_: Any) -> None:
        """The library's steps (table lock, NOTIFY, insert), with the columns as arrays."""
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(self.insert_events_statement, (
            [event.originator_id for event in stored_events],
            [event.originator_version for event in stored_events],
            [event.topic for event in stored_events],
            [event.state for event in stored_events]), prepare=True)

    # -- appending ---------------------------------------------------------------------------

    def _fetch_ids_after_insert_events(self, curs: Cursor[DictRow],
                                       stored_events: Sequence[StoredEvent],
                                       **kwargs: Any) -> Sequence[int] | None:
        """Still inside the insert's transaction and table lock: link the new events."""
        notification_ids = super()._fetch_ids_after_insert_events(curs, stored_events,
                                                                  **kwargs)
        if notification_ids:
            curs.execute(self._sql("SELECT notification_id, previous_id, hash "
                                   "FROM {schema}.{chain} "
                                   "ORDER BY notification_id DESC LIMIT 1"), prepare=True)
            row = curs.fetchone()
            head = Link(**row) if row else None
            # Pipelined with the COMMIT: no extra round trip. `extend` has already refused a
            # head at or after the new ids, the one way this insert could conflict.
            self._insert_links(curs, extend(head, notification_ids, stored_events,
                                            self.originator_id_type))
        return notification_ids

    def _insert_links(self, curs: Cursor[DictRow], links: Sequence[Link]) -> None:
        curs.execute(self._sql(
            "INSERT INTO {schema}.{chain} (notification_id, previous_id, hash) "
            "SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::text[])"),
            ([link.notification_id for link in links], [link.previous_id for link in links],
             [link.hash for link in links]), prepare=True)

    # -- the side table --------------------------------------------------------------------

    def create_table(self) -> None:
        super().create_table()
        if self._chain_exists():
            return
        with self.datastore.transaction(commit=True) as curs:
            self._lock_table(curs)  # no event is appended while existing ones are sealed
            if self._chain_exists(curs):
                return
            curs.execute(self._sql(
                "CREATE TABLE {schema}.{chain} (notification_id bigint PRIMARY KEY, "
                "previous_id bigint NOT NULL, hash text NOT NULL)"))
            for links in seal(self._pages(curs), self.originator_id_type):
                self._insert_links(curs, links)

    def _chain_exists(self, curs: Cursor[DictRow] | None = None) -> bool:
        # to_regclass answers from the catalog cache; information_schema was ten times slower.
        query = SQL("SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) AS found")
        params = (self.datastore.schema, self.chain_table_name)
        if curs is not None:
            return curs.execute(query, params).fetchone()["found"] is not None
        with self.datastore.transaction(commit=False) as own:
            return own.execute(query, params).fetchone()["found"] is not None

    def _pages(self, curs: Cursor[DictRow]) -> Iterator[list[Notification]]:
        """Every stored event in notification order, read inside the sealing transaction."""
        query = SQL("SELECT * FROM {schema}.{table} WHERE notification_id > %s "
                    "ORDER BY notification_id LIMIT %s").format(
            schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))
        after = 0
        while rows := curs.execute(query, (after, SEAL_PAGE)).fetchall():
            yield [Notification(id=row["notification_id"], originator_id=row["originator_id"],
                                originator_version=row["originator_version"],
                                topic=row["topic"], state=bytes(row["state"]))
                   for row in rows]
            after = rows[-1]["notification_id"]

    # -- reading, for the verifier -----------------------------------------------------------

    def select_links(self, after: int, upto: int, limit: int) -> list[Link]:
        with self.datastore.transaction(commit=False) as curs:
            rows = curs.execute(self._sql(
                "SELECT notification_id, previous_id, hash FROM {schema}.{chain} "
                "WHERE notification_id > %s AND notification_id <= %s "
                "ORDER BY notification_id LIMIT %s"), (after, upto, limit)).fetchall()
        return [Link(**row) for row in rows]

    def max_link_id(self) -> int | None:
        with self.datastore.transaction(commit=False) as curs:
            row = curs.execute(self._sql(
                "SELECT MAX(notification_id) AS head FROM {schema}.{chain}")).fetchone()
        return row["head"] if row else None
