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
        # Deleted and overwritten rows are zeroed, not left readable in free space of the
        # file: a sealed document number (services.sealed) and what `flask purge` removes
        # (notices/privacy/purge.py) are gone for good. Debian builds SQLite with this on by
        # default; not every build does.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()


# Requests that only read; everything else may write.
READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# The key of the board's write lock on PostgreSQL, a transaction-level advisory lock (any
# fixed 64-bit number no other application on the database uses).
WRITE_LOCK = 0x6E6F7469636573
# How long a writer waits for its turn before failing, as SQLite's busy_timeout above.
WRITE_LOCK_TIMEOUT = "30s"


@event.listens_for(Engine, "begin")
def _begin(connection):
    """Begin a transaction that can write by taking the board's write lock first.

    The services read and then write (a reference number's sequence, "is it still
    pending?", an Idempotency-Key already used?) and count on no other writer coming in
    between. On SQLite that is BEGIN IMMEDIATE: a DEFERRED transaction that reads and then
    writes fails at once with "database is locked" if another connection wrote in between,
    even in WAL mode and whatever the busy timeout; an IMMEDIATE one waits its turn for the
    lock before it reads anything.

    PostgreSQL gets the same guarantee from a transaction-level advisory lock taken as the
    transaction's first statement: writers run one at a time, and each one's reads (READ
    COMMITTED, a new snapshot per statement) see every write committed before it. Chosen over
    SERIALIZABLE with retries, which would make every request and command retry itself
    after a serialization failure reported as late as its commit, and over row locks, which
    each read-then-write would have to name, and which cannot lock a row not yet there (two
    submissions with one Idempotency-Key, the next reference number). The board's writes are
    few and short (a submission, a decision); readers never take the lock. It also keeps the
    search outbox's ids in commit order: an id is drawn inside the lock, so a row whose id is
    lower than a visible one has committed.

    Page views (GET) only read and take no lock, so readers never queue behind writers; a
    connection can also say so itself with the ``board_reading`` execution option (a rebuild
    of the search index reads for minutes and must not hold the write lock meanwhile).

    The mail worker's transactions say ``board_row_locks``: each changes one mail outbox row
    it has locked itself (``FOR UPDATE SKIP LOCKED``, see notices/mail/outbox.py), and what a
    service reads of the outbox it reads in one statement, so on PostgreSQL they take no turn
    in the write lock: workers on every server claim and record without holding up a
    submission. On SQLite they begin IMMEDIATE like any writer, the file's one at a time.
    """
    options = connection.get_execution_options()
    reading = options.get("board_reading")
    if reading is None:
        reading = has_request_context() and request.method in READING_METHODS
    if _is_sqlite(connection.connection.dbapi_connection):
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql" and not reading and not options.get(
        "board_row_locks"
    ):
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{WRITE_LOCK_TIMEOUT}'")
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")


def reading():
    """Begin a read-only transaction on the session, taking no write lock; return its connection.

    The session's current transaction, if any, ends first: it may hold the write lock, and
    its snapshot may be older than the caller wants. It must have nothing left to write.
    Every statement of the transaction reads one snapshot: SQLite's deferred transaction
    does, and PostgreSQL's REPEATABLE READ (its default, READ COMMITTED, takes a new
    snapshot per statement, and a rebuild reading notices in batches would mix moments).
    """
    session = db.session()
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("reading() with unsaved changes in the session")
        session.commit()
    options = {"board_reading": True}
    if db.engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    return session.connection(execution_options=options)
