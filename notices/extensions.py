"""Flask extensions, created unbound and attached to the app in ``create_app``."""
from flask import has_request_context
from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


# The database: models import it from here, never from the package.
db = SQLAlchemy(model_class=Base)
# Schema changes go through Alembic migrations kept in the repository's migrations/.
migrate = Migrate()
# CSRF protection for every form that changes state.
csrf = CSRFProtect()
# Editor sessions.
login_manager = LoginManager()
login_manager.login_view = "editor.login"
login_manager.login_message = "请先登录编辑账户"
login_manager.login_message_category = "warning"
# Flood protection for submissions and logins; storage is set by RATELIMIT_STORAGE_URI.
limiter = Limiter(get_remote_address)


def _is_sqlite(dbapi_connection):
    return type(dbapi_connection).__module__.startswith("sqlite3")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    # SQLite leaves foreign keys unchecked unless asked on every connection.
    if _is_sqlite(dbapi_connection):
        # The driver's own BEGIN is always DEFERRED and comes only before a write; we begin
        # every transaction ourselves (below) to choose its kind.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # Readers never wait for a writer, and a writer waits its turn instead of failing.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


# Requests that only read; everything else may write.
READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection):
    """Begin a transaction that can write as BEGIN IMMEDIATE, taking the write lock first.

    A DEFERRED transaction that reads and then writes fails at once with "database is
    locked" if another connection wrote in between, even in WAL mode and whatever the busy
    timeout; an IMMEDIATE one waits its turn for the lock before it reads anything. Page
    views (GET) only read and stay DEFERRED, so readers never queue behind writers; a
    connection can also say so itself with the ``board_reading`` execution option (a rebuild
    of the search index reads for minutes and must not hold the write lock meanwhile).
    """
    if not _is_sqlite(connection.connection.dbapi_connection):
        return
    reading = connection.get_execution_options().get("board_reading")
    if reading is None:
        reading = has_request_context() and request.method in READING_METHODS
    connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


def reading():
    """Begin a read-only transaction (BEGIN, not IMMEDIATE) on the session; return its connection.

    The session's current transaction, if any, ends first: it may hold the write lock, and
    its snapshot may be older than the caller wants. It must have nothing left to write.
    """
    session = db.session()
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("reading() with unsaved changes in the session")
        session.commit()
    return session.connection(execution_options={"board_reading": True})
