"""Backups of a SQLite database, and restoring one, through SQLite's backup API.

A file copy of a database in WAL mode misses the commits still in the -wal file, and a copy
taken while a checkpoint writes the main file can be torn. The backup API reads every page
inside one read transaction instead: the copy is the database exactly as it was when that
transaction began, and under WAL the board's writers carry on meanwhile.
"""
import sqlite3
from contextlib import closing
from pathlib import Path

from notices.backup.common import NOT_BACKED_UP
from notices.backup.common import BackupError
from notices.backup.common import check_revision
from notices.extensions import db


def dump(tmp):
    """Copy the live database into the empty file ``tmp`` and check the copy's integrity;
    return how many notices it holds."""
    _copy_live_into(tmp)
    return _verify_copy(tmp)


def load(path):
    """Check the backup at ``path``, then copy it over the live database; return its revision.

    The file must pass ``PRAGMA integrity_check`` and carry the schema revision of the code's
    migrations; anything else is refused before the live database is touched.
    """
    # Read-only: checking a backup never changes it, whatever it turns out to be.
    with closing(sqlite3.connect(Path(path).as_uri() + "?mode=ro", uri=True)) as source:
        try:
            _check_integrity(source, path)
            revision = check_revision(path, _versions(source), "a SQLite database")
        except sqlite3.DatabaseError as error:
            if error.sqlite_errorname == "SQLITE_NOTADB":
                raise BackupError(f"{path} is not a SQLite database.") from None
            raise BackupError(f"{path} is damaged or unreadable: {error}.") from None
        # Objects loaded before the restore describe rows that are about to be replaced.
        db.session.remove()
        live = db.engine.raw_connection()
        try:
            _check_page_size(source, live.driver_connection, path)
            # One step, inside one write transaction on the live database: readers see the
            # old data or the whole backup, never a mixture, and writers wait (busy_timeout)
            # until the copy is committed.
            source.backup(live.driver_connection)
        finally:
            live.close()
    return revision


def _copy_live_into(tmp):
    """Copy every page of the live database into the empty file ``tmp``."""
    live = db.engine.raw_connection()
    try:
        with closing(sqlite3.connect(tmp)) as copy:
            # All pages in one step (pages=-1), so one read transaction covers the whole copy.
            # Stepping a few pages at a time would let a writer's commit in between restart
            # the copy from the first page, and under steady load it might never finish.
            live.driver_connection.backup(copy)
            # The copied header still says WAL; a backup should be one self-contained file,
            # which a read-only check can open without leaving -wal and -shm files beside it.
            copy.execute("PRAGMA journal_mode=DELETE")
            _without_waiting_mail(copy)
    finally:
        live.close()


def _without_waiting_mail(copy):
    """Empty the copy's mail outbox (see common.NOT_BACKED_UP), overwriting the rows' bytes."""
    tables = {row[0] for row in copy.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    for table in NOT_BACKED_UP:
        if table in tables:
            copy.execute("PRAGMA secure_delete = ON")
            copy.execute(f'DELETE FROM "{table}"')
            copy.commit()


def _verify_copy(tmp):
    """Check the copy's integrity; return how many notices it holds."""
    with closing(sqlite3.connect(Path(tmp).as_uri() + "?mode=ro", uri=True)) as copy:
        _check_integrity(copy, tmp)
        try:
            return copy.execute("SELECT count(*) FROM notice").fetchone()[0]
        except sqlite3.OperationalError:
            raise BackupError(
                "The database has no notice table: run `flask init-db` before backing it up."
            ) from None


def _check_integrity(connection, path):
    problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    if problems != ["ok"]:
        # The first lines are enough to tell a broken file; the full list can run to thousands.
        shown = "; ".join(" ".join(problems).split("\n")[:4])
        raise BackupError(f"{path} fails SQLite's integrity check: {shown}")


def _versions(connection):
    """Return the rows of the file's alembic_version table, or None if it has none."""
    tables = connection.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")
    if "alembic_version" not in {row[0] for row in tables}:
        return None
    return [row[0] for row in connection.execute("SELECT version_num FROM alembic_version")]


def _check_page_size(source, live, path):
    # SQLite cannot copy between page sizes into a database in WAL mode, and says only
    # "attempt to write a readonly database" when asked to.
    source_size = source.execute("PRAGMA page_size").fetchone()[0]
    live_size = live.execute("PRAGMA page_size").fetchone()[0]
    live_mode = live.execute("PRAGMA journal_mode").fetchone()[0]
    if source_size != live_size and live_mode == "wal":
        raise BackupError(
            f"{path} has pages of {source_size} bytes and the live database {live_size}: "
            "SQLite cannot restore across page sizes into a database in WAL mode."
        )
