"""How the board writes: write transactions take the write lock first, page views never wait.

On SQLite the lock is BEGIN IMMEDIATE's; on PostgreSQL a transaction-level advisory lock
(``notices.extensions._begin``). Each test asks another connection whether it could begin
writing now, the way that database's writers ask.
"""
import sqlite3
from contextlib import closing

import pytest
import sqlalchemy as sa
from conftest import at_once

from notices.extensions import WRITE_LOCK
from notices.extensions import db
from notices.extensions import reading


def _lock_is_free():
    """Return whether another connection could take the write lock at this moment."""
    if db.engine.dialect.name == "sqlite":
        with closing(sqlite3.connect(db.engine.url.database, timeout=0, isolation_level=None)) as other:
            try:
                other.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                assert "locked" in str(error)
                return False
            other.execute("ROLLBACK")
            return True
    # A reading connection: a writing one would wait for the lock itself.
    other = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool,
                             execution_options={"board_reading": True})
    try:
        with other.connect() as connection:
            return connection.scalar(sa.text(f"SELECT pg_try_advisory_xact_lock({WRITE_LOCK})"))
    finally:
        other.dispose()


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_a_request_that_may_write_holds_the_write_lock_from_its_first_query(app, method):
    with app.test_request_context("/", method=method):
        db.session.execute(db.text("select count(*) from notice"))
        assert not _lock_is_free()
        db.session.rollback()
        assert _lock_is_free()


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_page_views_read_without_the_write_lock(app, method):
    with app.test_request_context("/", method=method):
        db.session.execute(db.text("select count(*) from notice"))
        assert _lock_is_free()


def test_commands_write_immediately_unless_they_say_they_read(app):
    with app.app_context():
        db.session.execute(db.text("select 1"))
        assert not _lock_is_free()
        db.session.rollback()
        reading()
        db.session.execute(db.text("select 1"))
        assert _lock_is_free()


def test_read_then_write_transactions_wait_for_each_other_instead_of_failing(app):
    """Each thread reads a counter and writes it back +1: no lost update, no 'locked' error.

    With DEFERRED transactions the second writer fails at once with SQLITE_BUSY (its
    snapshot is stale), busy timeout or not; on PostgreSQL without the lock, updates are lost.
    """
    with app.app_context():
        db.session.execute(db.text("create table counter (n integer)"))
        db.session.execute(db.text("insert into counter values (0)"))
        db.session.commit()
    def work():
        with app.test_request_context("/", method="POST"):
            for _ in range(25):
                n = db.session.scalar(db.text("select n from counter"))
                db.session.execute(db.text("update counter set n = :n"), {"n": n + 1})
                db.session.commit()
            db.session.remove()

    at_once(4, work)
    with app.app_context():
        assert db.session.scalar(db.text("select n from counter")) == 100


def test_checking_a_password_does_not_hold_the_write_lock(app, editor, monkeypatch):
    """Argon2 is slow on purpose; other writers must not wait for a wrong password."""
    from argon2 import PasswordHasher

    from notices import accounts

    held = []

    class LookingHasher(PasswordHasher):
        def verify(self, hash, password):
            held.append(not _lock_is_free())
            return super().verify(hash, password)

    monkeypatch.setattr(accounts, "hasher", LookingHasher())
    with app.test_request_context("/editor/login", method="POST"):
        assert accounts.authenticate("editor", "wrong-password") is None
        assert accounts.authenticate("editor", "correct-horse-battery") is not None
    assert held == [False, False]
