"""Backups of the live database, and restoring one: ``flask backup`` and ``flask restore``.

Each database is copied by its own means (``sqlite.py``: SQLite's backup API; ``postgresql.py``:
``pg_dump`` and ``pg_restore``), with the same promises: a file bearing the backup's name is a
whole, checked copy; a file that is damaged, is no backup or is at another schema revision is
refused before the live data is touched; and a restore is all or nothing. What a restore must
do afterwards is the same on both, and lives here.
"""
import os
import time
from dataclasses import dataclass

from notices import accounts
from notices import board
from notices import expiry
from notices import search
from notices.backup import postgresql
from notices.backup import sqlite
from notices.backup.common import BackupError
from notices.backup.common import written
from notices.extensions import db
from notices.models import AuditEntry
from notices.models import LossItem
from notices.models import Notice
from notices.models import User

__all__ = ["Backup", "BackupError", "Restored", "backup", "restore"]

# How each database is backed up and restored, by SQLAlchemy's name for it.
ENGINES = {"sqlite": sqlite, "postgresql": postgresql}


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

    The copy is written under a temporary name in the same directory, checked, and only then
    given its name. An existing ``path`` is never replaced.
    """
    started = time.monotonic()
    path = os.path.abspath(path)
    engine = _engine()
    with written(path) as tmp:
        notices = engine.dump(tmp)
    return Backup(path, os.path.getsize(path), notices, time.monotonic() - started)


def restore(path):
    """Replace the live database with the backup at ``path`` and rebuild the search index.

    The file must pass the database's integrity check and carry the schema revision of the
    code's migrations; anything else is refused before the live database is touched. Return a
    :class:`Restored`.
    """
    path = os.path.abspath(path)
    engine = _engine()
    if not os.path.isfile(path):
        raise BackupError(f"No such file: {path}")
    revision = engine.load(path)
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


def _engine():
    name = db.engine.dialect.name
    if name not in ENGINES:
        raise BackupError(
            f"The database is {name}, neither SQLite nor PostgreSQL: use that database's own "
            "backup tools."
        )
    return ENGINES[name]
