"""Backups of the live SQLite database, and restoring one, through SQLite's backup API.

A file copy of a database in WAL mode misses the commits still in the -wal file, and a copy
taken while a checkpoint writes the main file can be torn. The backup API reads every page
inside one read transaction instead: the copy is the database exactly as it was when that
transaction began, and under WAL the board's writers carry on meanwhile.
"""
import os
import sqlite3
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from flask import current_app

from notices import accounts
from notices import board
from notices import expiry
from notices import search
from notices.extensions import db
from notices.models import AuditEntry
from notices.models import LossItem
from notices.models import Notice
from notices.models import User


class BackupError(Exception):
    """A backup or restore refused or failed; the message says why, for the operator."""


@dataclass
class Backup:
    path: str
    size: int
    notices: int
    seconds: float


@dataclass
class Restored:
    path: str
    revision: str
    notices: int
    public: int
    loss_items: int
    audit_entries: int
    users: int
    active_users: list
    indexed: int


def backup(path):
    """Write a consistent copy of the live database to ``path``; return a :class:`Backup`.

    The copy is written under a temporary name in the same directory, checked with
    ``PRAGMA integrity_check`` and only then given its name, so a file bearing ``path`` is
    always a whole, checked backup. An existing ``path`` is never replaced.
    """
    started = time.monotonic()
    path = os.path.abspath(path)
    _require_sqlite()
    if os.path.lexists(path):
        raise BackupError(f"{path} already exists; a backup never replaces a file.")
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise BackupError(f"No such directory: {directory}")
    # mkstemp creates the file readable by its owner only, which suits a copy holding
    # submitters' phone numbers and the editors' password hashes.
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        _copy_live_into(tmp)
        notices = _verify_copy(tmp)
        _place(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    return Backup(path, os.path.getsize(path), notices, time.monotonic() - started)


def restore(path):
    """Replace the live database with the backup at ``path`` and rebuild the search index.

    The file must be a SQLite database that passes ``PRAGMA integrity_check`` and carries
    the schema revision of the code's migrations; anything else is refused before the live
    database is touched. Return a :class:`Restored`.
    """
    path = os.path.abspath(path)
    _require_sqlite()
    if not os.path.isfile(path):
        raise BackupError(f"No such file: {path}")
    # Read-only: checking a backup never changes it, whatever it turns out to be.
    with closing(sqlite3.connect(Path(path).as_uri() + "?mode=ro", uri=True)) as source:
        try:
            _check_integrity(source, path)
            revision = _check_revision(source, path)
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
    # A login open when the backup was taken may have been ended since: everyone logs in again.
    accounts.end_all_sessions(now=expiry.utcnow())
    # The backup brings back the generation it was taken at, and workers may still keep pages
    # under it: made from the same data, unless the file was changed since by something that
    # never touches the generation (a copy edited by hand, another tool). A new one costs each
    # worker one render per page.
    board.touch_generation()
    db.session.commit()
    indexed = search.reindex(board.public_notices())

    def count(model):
        return db.session.scalar(db.select(db.func.count()).select_from(model))

    return Restored(
        path=path,
        revision=revision,
        notices=count(Notice),
        public=db.session.scalar(board.public_count()),
        loss_items=count(LossItem),
        audit_entries=count(AuditEntry),
        users=count(User),
        active_users=db.session.scalars(
            db.select(User.username).where(User.active.is_(True)).order_by(User.username)
        ).all(),
        indexed=indexed,
    )


def _require_sqlite():
    if db.engine.dialect.name != "sqlite":
        raise BackupError(
            f"The database is {db.engine.dialect.name}, not SQLite: use that database's own "
            "backup tools."
        )


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
    finally:
        live.close()


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


def _check_revision(connection, path):
    """Return the file's schema revision if it is the code's; refuse any other."""
    tables = connection.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")
    if "alembic_version" not in {row[0] for row in tables}:
        raise BackupError(
            f"{path} is a SQLite database but not the board's: it has no alembic_version table."
        )
    found = sorted(row[0] for row in connection.execute("SELECT version_num FROM alembic_version"))
    migrate = current_app.extensions["migrate"]
    scripts = ScriptDirectory.from_config(migrate.migrate.get_config(migrate.directory))
    heads = sorted(scripts.get_heads())
    if found != heads:
        raise BackupError(
            f"{path} is at schema revision {', '.join(found) or '(none)'}, but this code is at "
            f"{', '.join(heads)}: restore it with the code of its own revision."
        )
    return ", ".join(found)


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


_APPEARED = "{path} appeared while the backup was written; it was left alone."


def _place(tmp, path):
    """Give the checked copy its name, never replacing a file that appeared meanwhile."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise BackupError(_APPEARED.format(path=path)) from None
    except OSError:
        # A file system without hard links (FAT, some network shares): rename instead, which
        # would replace a file of that name, so look once more just before.
        if os.path.lexists(path):
            raise BackupError(_APPEARED.format(path=path)) from None
        os.rename(tmp, path)
    else:
        os.unlink(tmp)
    # The directory entry is what makes the name survive a power cut.
    fd = os.open(os.path.dirname(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(tmp):
    for name in (tmp, f"{tmp}-journal", f"{tmp}-wal", f"{tmp}-shm"):
        try:
            os.unlink(name)
        except FileNotFoundError:
            pass
