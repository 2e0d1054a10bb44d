"""The live store's and the paper venue's connection: a server that cannot be reached, a
statement the server refuses, and a connection lost under a query, each raising the holder's
own error with the holder's name."""

from __future__ import annotations

import pytest

from easyquant.config import load_settings
from easyquant.errors import BrokerError, DatabaseError
from easyquant.live.broker import BrokerUnavailable
from easyquant.live.pg import Holder, close_quietly, execute, open_connection
from easyquant.live.records import DatabaseUnavailable

VENUE = Holder("paper venue v", BrokerUnavailable, BrokerError)
SESSION = Holder("live session s", DatabaseUnavailable, DatabaseError)


def test_an_unreachable_server_raises_the_holders_error_naming_it(tmp_path):
    nowhere = load_settings(home=tmp_path, database_url="postgresql://postgres@127.0.0.1:1/none")
    with pytest.raises(BrokerUnavailable, match=r"^paper venue v: database unreachable: \S"):
        open_connection(nowhere, "easyquant-test", "", VENUE)


def test_a_refused_statement_rolls_back_and_the_connection_stays_usable(pg_settings):
    conn = open_connection(pg_settings, "easyquant-test", "-c synchronous_commit=off", SESSION)
    dropped: list[bool] = []
    try:
        assert conn.autocommit
        execute(conn.cursor, "BEGIN", None, False, SESSION, lambda: dropped.append(True))
        with pytest.raises(DatabaseError, match=r"^live session s: .*no_such_table") as err:
            execute(conn.cursor, "SELECT * FROM no_such_table", None, True, SESSION, dropped.clear)
        assert not isinstance(err.value, DatabaseUnavailable)
        # the failed transaction was rolled back: the next statement runs
        assert execute(conn.cursor, "SELECT 1", None, True, SESSION, dropped.clear) == [(1,)]
        assert dropped == [] and not conn.closed
    finally:
        close_quietly(conn)


def test_a_lost_connection_is_dropped_and_raises_lost(pg_settings):
    conn = open_connection(pg_settings, "easyquant-test", "", VENUE)
    conn.close()
    dropped: list[bool] = []
    with pytest.raises(BrokerUnavailable, match=r"^paper venue v: database unreachable"):
        execute(conn.cursor, "SELECT 1", None, True, VENUE, lambda: dropped.append(True))
    assert dropped == [True]
    close_quietly(conn)
    close_quietly(None)
