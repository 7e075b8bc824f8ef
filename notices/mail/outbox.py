"""The mail outbox: rows written by the services, claimed, settled and removed by the worker.

:func:`queue` runs in the caller's transaction (a service's, holding the board's write lock).
The worker's three steps are each a short transaction of their own on a connection outside
the session, and no transaction is open while it talks to the SMTP server:

1. :func:`claim` takes one due row for a lease (``claimed_by``, ``claimed_until``) and counts
   the attempt. On PostgreSQL the row is chosen ``FOR UPDATE SKIP LOCKED``: workers on any
   number of servers each take a different row and never wait for one another. On SQLite
   the transaction begins IMMEDIATE, so one claim runs at a time.
2. The worker sends the message.
3. :func:`record` writes the mail log row and deletes the outbox row, in one transaction;
   or :func:`retry` gives the row back with a later ``next_attempt_at``.

A worker killed before step 3 leaves its row claimed; once the lease ends, the next claim
takes it again. The one case that sends a mail twice is a worker killed after the server
accepted the message and before step 3 committed (milliseconds): the copy carries the same
Message-ID, so mail programs show it once.

These transactions say ``board_row_locks``: on PostgreSQL they lock the rows they change
themselves, and take no part in the board's write lock (extensions._begin), so a worker never
waits behind a submission or makes one wait.
"""
import hashlib
import hmac
import secrets
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import insert
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from notices.extensions import db
from notices.models import MailLog
from notices.models import MailOutbox

OUTBOX = MailOutbox.__table__


def queue(kind, recipient, subject, body, *, now, dedupe_key=None, headers=None):
    """Add a mail to the outbox in the caller's transaction; return it, or None if a mail
    under ``dedupe_key`` was queued before (waiting, sent or given up).

    The caller commits. ``now`` is the event's instant: the mail's Date, and when it is due.
    """
    if dedupe_key is not None and _known(dedupe_key):
        return None
    domain = urlsplit(current_app.config["PUBLIC_URL"]).hostname
    row = MailOutbox(
        kind=kind,
        recipient=recipient,
        subject=subject,
        body=body,
        headers=headers or None,
        dedupe_key=dedupe_key,
        # Random and short: a header past 78 characters is folded, which some programs misread.
        message_id=f"<{secrets.token_hex(12)}@{domain}>",
        created_at=now,
        next_attempt_at=now,
        attempts=0,
    )
    db.session.add(row)
    return row


def _known(dedupe_key):
    # One statement, one snapshot: the worker moves a row from the outbox to the log in one
    # commit, which two separate reads could straddle and miss the row in both tables.
    return db.session.scalar(
        select(
            or_(
                exists().where(MailOutbox.dedupe_key == dedupe_key),
                exists().where(MailLog.dedupe_key == dedupe_key),
            )
        )
    )


def recipient_hash(address):
    """Return the keyed hash the mail log keeps of an address (any case of it)."""
    key = hmac.new(current_app.config["SECRET_KEY"].encode(), b"mail-recipient", hashlib.sha256)
    return hmac.new(key.digest(), address.strip().lower().encode(), hashlib.sha256).hexdigest()


@contextmanager
def _transaction():
    with db.engine.connect() as connection:
        connection.execution_options(board_row_locks=True)
        with connection.begin():
            yield connection


def _due(now):
    return (OUTBOX.c.next_attempt_at <= now) & or_(
        OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until <= now
    )


def anything_due(now):
    """Return True if a mail is due; a read, which takes no lock (an idle worker's poll)."""
    with db.engine.connect() as connection:
        connection.execution_options(board_reading=True)
        return connection.execute(select(exists().where(_due(now)))).scalar()


def claim(worker, now):
    """Claim the longest-waiting due mail for ``worker``; return its row, or None."""
    lease = timedelta(seconds=current_app.config["MAIL_LEASE_SECONDS"])
    oldest = (
        select(OUTBOX.c.id)
        .where(_due(now))
        .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
        .limit(1)
        # PostgreSQL: a row another worker is claiming is passed over, not waited for.
        # SQLite renders no FOR UPDATE; its IMMEDIATE transaction is the lock.
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    with _transaction() as connection:
        return connection.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == oldest)
            .values(
                claimed_by=worker, claimed_until=now + lease, attempts=OUTBOX.c.attempts + 1
            )
            .returning(*OUTBOX.c)
        ).first()


def record(row, now, outcome="sent", error=None):
    """Log ``row`` as sent (or failed, with the ``error``) and delete it from the outbox.

    Deleted by id whoever claims it now: it was sent, and a worker that took it over after
    this one's lease ran out would only send it again.
    """
    with _transaction() as connection:
        if connection.dialect.name == "sqlite":
            # The body may hold a tracking address: its bytes are overwritten, not left in a
            # free page of the file.
            connection.exec_driver_sql("PRAGMA secure_delete = ON")
        connection.execute(
            insert(MailLog).values(
                outbox_id=row.id,
                kind=row.kind,
                recipient_hash=recipient_hash(row.recipient),
                dedupe_key=row.dedupe_key,
                message_id=row.message_id,
                outcome=outcome,
                attempts=row.attempts,
                error=error,
                created_at=row.created_at,
                finished_at=now,
            )
        )
        connection.execute(delete(OUTBOX).where(OUTBOX.c.id == row.id))


def retry(row, worker, error, now):
    """Give ``row`` back to the outbox, due again after its backoff; return when."""
    due = now + backoff(row.attempts)
    with _transaction() as connection:
        connection.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == row.id, OUTBOX.c.claimed_by == worker)
            .values(next_attempt_at=due, claimed_by=None, claimed_until=None, last_error=error)
        )
    return due


def backoff(attempts):
    """Return how long to wait after the ``attempts``-th try failed: doubling, capped."""
    config = current_app.config
    seconds = config["MAIL_RETRY_SECONDS"] * 2 ** (attempts - 1)
    return timedelta(seconds=min(seconds, config["MAIL_RETRY_MAX_SECONDS"]))
