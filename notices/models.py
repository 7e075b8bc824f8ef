"""Tables of the board: notices, their declared documents, editors, the audit trail and
the outboxes of the search index and of mail."""
from datetime import date
from datetime import datetime
from datetime import timezone

from flask_login import UserMixin
from sqlalchemy import JSON
from sqlalchemy import BigInteger
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import TypeDecorator
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from notices import documents
from notices import kinds
from notices.extensions import db

# The lifecycle of SPEC.md; "expired" is not a status but a reading of the window's dates.
STATUSES = ("submitted", "published", "rejected", "withdrawn", "revoked")
# Statuses the public may see: a published notice, and a revoked one with its reason.
PUBLIC_STATUSES = ("published", "revoked")


class UTCDateTime(TypeDecorator):
    """An aware datetime, stored in UTC and always read back aware.

    PostgreSQL keeps the offset itself; SQLite keeps text without one, so every value is
    converted to UTC on the way in and tagged as UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware one")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Notice(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    # The public reference printed on the receipt and in the permalink, e.g. YS-20240308-7K3QX.
    ref: Mapped[str] = mapped_column(String(24), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    # The type's public fields, as declared by its Kind (loss items live in LossItem).
    fields: Mapped[dict] = mapped_column(JSON)
    submitter_name: Mapped[str] = mapped_column(String(100))
    submitter_phone: Mapped[str] = mapped_column(String(32))
    submitter_email: Mapped[str | None] = mapped_column(String(200))
    # SHA-256 of the private tracking token: a leaked database does not leak the links.
    tracking_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Calls carry the submitter's start; other types get their publication date.
    window_start: Mapped[date | None]
    window_end: Mapped[date | None]
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The board's date of publication, kept beside published_at so that archive months are
    # portable SQL without time-zone arithmetic in the database.
    published_on: Mapped[date | None]
    # When the notice was rejected, withdrawn or revoked.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why it was rejected (shown to the submitter) or revoked (shown to everyone).
    reason: Mapped[str | None] = mapped_column(Text)
    # Recorded by `flask expire` for the record; what is shown never depends on it.
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the submitter consented to the publication of the persons' details the notice
    # names, and the version of the privacy notice (privacy.PRIVACY_VERSION) they were shown.
    # None for notices the board did not collect itself (imported or seed notices).
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_version: Mapped[str | None] = mapped_column(String(16))
    # When `flask purge` replaced the submitter's contacts with a marker, and when it removed
    # the rest of an unpublished submission's personal data (notices/privacy.py).
    contacts_purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    content_purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A correction (更正启事) names the notice it corrects; the corrected one keeps its text.
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("notice.id"), index=True)

    items: Mapped[list["LossItem"]] = relationship(
        back_populates="notice", order_by="LossItem.position", cascade="all, delete-orphan"
    )
    events: Mapped[list["AuditEntry"]] = relationship(
        back_populates="notice", order_by="AuditEntry.id", cascade="all, delete-orphan"
    )
    corrects: Mapped["Notice | None"] = relationship(
        remote_side=[id], back_populates="corrections"
    )
    # Requests and published corrections alike, oldest first; see :attr:`correction`.
    corrections: Mapped[list["Notice"]] = relationship(
        back_populates="corrects", order_by="Notice.id"
    )

    __table_args__ = (
        Index("ix_notice_listing", "status", "kind", "window_end"),
        Index("ix_notice_published_on", "published_on"),
        # Active listings of every type: the notices whose window is still open.
        Index("ix_notice_status_window_end", "status", "window_end"),
    )

    @property
    def kind_def(self):
        return kinds.get(self.kind)

    @property
    def is_public(self):
        return self.status in PUBLIC_STATUSES

    @property
    def correction(self):
        """Return the public correction that supersedes this notice, or None."""
        return next((c for c in self.corrections if c.is_public), None)

    @property
    def is_current(self):
        """Whether the public finds this notice in listings and search: public and not
        superseded by a correction (which is found instead)."""
        return self.is_public and self.correction is None

    def __repr__(self):
        return f"<Notice {self.ref} {self.kind} {self.status}>"


class LossItem(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id"), index=True)
    position: Mapped[int]
    owner_name: Mapped[str] = mapped_column(String(100))
    document_type: Mapped[str] = mapped_column(String(32))
    document_type_other: Mapped[str | None] = mapped_column(String(30))
    # Upper-case without spaces (documents.normalize_number) while the notice waits for a
    # decision, for the editor to check; from the decision on, only the public form
    # (documents.mask_number). See seal().
    document_number: Mapped[str] = mapped_column(String(40))
    # documents.number_hash of the full number: what the lookups, the duplicate warning, the
    # number watch and the search match, from submission on.
    number_hash: Mapped[str] = mapped_column(String(64), index=True)

    notice: Mapped[Notice] = relationship(back_populates="items")

    @property
    def document_type_name(self):
        return documents.type_name(self.document_type, self.document_type_other)

    @property
    def masked_number(self):
        # The public form of a sealed number is its own public form: masking is idempotent.
        return documents.mask_number(self.document_type, self.document_number)

    def seal(self):
        """Keep only the public form of the number (its hash is kept already), and mask any
        ID number typed in the owner's name or the document's name."""
        self.document_number = self.masked_number
        self.owner_name = documents.mask_id_numbers(self.owner_name)
        self.document_type_other = documents.mask_id_numbers(self.document_type_other)

    def __repr__(self):
        return f"<LossItem {self.document_type} {self.masked_number}>"


class User(UserMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    # "editor" reviews notices; "admin" also manages editor accounts; "authority" handles the
    # objections addressed to it and nothing else.
    role: Mapped[str] = mapped_column(String(16), default="editor")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # An authority account's name as wage notices name it (当地劳动局); None for editors.
    authority: Mapped[str | None] = mapped_column(String(100))

    # The login session this user was loaded through (see LoginSession): Flask-Login keeps
    # its id in the cookie instead of the user's, so the server can end one login.
    session_id = None

    def get_id(self):
        return self.session_id

    @property
    def is_active(self):
        return self.active

    @property
    def is_admin(self):
        return self.role == "admin"

    @property
    def is_authority(self):
        return self.role == "authority"

    def __repr__(self):
        return f"<User {self.username} {self.role}>"


class LoginSession(db.Model):
    """One editor login: the cookie names it, and it counts only while the server says so.

    A signed cookie alone stays valid until it expires, however often the editor logs out; a
    row here ends on logout, on a password change and after LOGIN_SESSION_HOURS, so a copied
    or replayed cookie is refused from then on. Only the id's hash is stored.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self):
        return f"<LoginSession {self.id} of user {self.user_id}>"


class IndexOutbox(db.Model):
    """Notices whose search-index document must be rewritten, written with the change itself.

    A row is added in the transaction that publishes or revokes a notice and removed once the
    index holds the change, so a crash between the two loses nothing.
    """

    # Ids are never reused (SQLite's AUTOINCREMENT): a drain deletes the rows it indexed by
    # id after the index lock is released, and a reused id would delete a newer change.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self):
        return f"<IndexOutbox {self.ref}>"


class SearchDocument(db.Model):
    """A public notice as the PostgreSQL search engine finds it (notices/search/postgres_engine.py).

    The table exists on every database, so the schema is one, but only that engine writes
    it, in SQL of its own (a tsvector is written and searched as a literal cast by the
    database).
    """

    __tablename__ = "search_document"
    __table_args__ = (
        Index("ix_search_document_document", "document", postgresql_using="gin"),
        # The default search's notices, those in an open window: the planner ANDs this
        # index's rows with the GIN index's, and reads only active candidates (at 100,000
        # notices the default search's p95 for 2- and 4-character words went from 15 and
        # 25 ms to 4.5 and 11 ms).
        Index(
            "ix_search_document_active", "window_end",
            postgresql_where=text("status = 'published'"),
        ),
    )

    ref: Mapped[str] = mapped_column(
        String(24), ForeignKey("notice.ref", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    # "published" or "revoked"; whether a published notice is active is decided per query.
    status: Mapped[str] = mapped_column(String(16))
    issuer: Mapped[str] = mapped_column(Text, index=True)
    published_on: Mapped[date]
    window_end: Mapped[date]
    # The version of public text the row was made from (search.TEXT_VERSION).
    text_version: Mapped[int]
    # Title and text as pages show them, masked and lower-cased: candidates are rechecked here.
    public_text: Mapped[str] = mapped_column(Text)
    # The bigrams, words and document numbers searched (postgres_engine.vector). SQLite has no
    # tsvector: there the column is plain text, never filled. Never loaded with the row.
    document: Mapped[str] = mapped_column(
        Text().with_variant(TSVECTOR(), "postgresql"), deferred=True
    )

    def __repr__(self):
        return f"<SearchDocument {self.ref}>"


class Generation(db.Model):
    """The data generation: one row whose value changes with anything public listings show.

    Workers keep rendered pages under the generation they were rendered at (notices/pages.py)
    and read this row on every request, so a change committed through one worker is seen on
    the next request to any other. See board.touch_generation.
    """

    # Always 1: there is one generation for the whole board.
    id: Mapped[int] = mapped_column(primary_key=True)
    # Random (secrets.token_hex), never counted: a restored database must not present a value
    # a worker has seen for other data.
    value: Mapped[str] = mapped_column(String(32))

    def __repr__(self):
        return f"<Generation {self.value}>"


class AuditEntry(db.Model):
    """Who did what to which notice, when and why; rows are only ever added."""

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id"), index=True)
    # submit, approve, reject, withdraw, revoke, expire, and import (flask import-notices)
    action: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # Kept as text too, so the trail still reads right if an account is renamed or removed.
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    notice: Mapped[Notice] = relationship(back_populates="events")
    user: Mapped[User | None] = relationship()

    def __repr__(self):
        return f"<AuditEntry {self.action} by {self.actor}>"


class MailOutbox(db.Model):
    """A mail waiting to be sent, written in the transaction of the event it tells of.

    The mail worker (notices/mail/worker.py) claims a row for a lease, sends it with no
    transaction open, then records it in :class:`MailLog` and deletes it in one transaction:
    a killed worker leaves its row to be claimed again once the lease ends. A row may hold
    a secret (a receipt carries the tracking address), so it lives only until it is sent.
    """

    __tablename__ = "mail_outbox"
    __table_args__ = (
        Index("ix_mail_outbox_next_attempt_at", "next_attempt_at"),
        # Ids are never reused (SQLite's AUTOINCREMENT): a worker whose lease ran out deletes
        # the row it sent by id, and a reused id would delete a newer mail.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # What the mail is: receipt, approve, reject, revoke, withdraw (to submitters), and what
    # later features add; the log keeps it after the row is gone.
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    # Plain text, sent as UTF-8.
    body: Mapped[str] = mapped_column(Text)
    # Further headers by name, e.g. List-Unsubscribe and List-Unsubscribe-Post.
    headers: Mapped[dict | None] = mapped_column(JSON)
    # One mail per key, ever: a second one queued under it (outbox or log) is dropped.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # Fixed when queued, with Date (created_at), so every try sends the same message.
    message_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Not to be tried before then: when queued, later after each temporary failure.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Tries so far, counted when claimed (a worker killed mid-send has used one).
    attempts: Mapped[int] = mapped_column(default=0)
    # The worker that holds the row, until when; an expired claim is anyone's.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last temporary failure, for an operator looking at a mail that waits.
    last_error: Mapped[str | None] = mapped_column(Text)

    def __repr__(self):
        return f"<MailOutbox {self.id} {self.kind}>"


class MailLog(db.Model):
    """A mail that left the outbox: sent, or given up on. Neither body nor address is kept.

    The recipient is a keyed hash (mail.recipient_hash), so the log tells whether a given
    address was written to without listing the addresses it holds.
    """

    __tablename__ = "mail_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The row's id in the outbox, to follow one mail through the worker's log lines.
    outbox_id: Mapped[int]
    kind: Mapped[str] = mapped_column(String(32))
    recipient_hash: Mapped[str] = mapped_column(String(64), index=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), index=True)
    message_id: Mapped[str] = mapped_column(String(255))
    # "sent", or "failed": refused for good, or still failing after the last attempt.
    outcome: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int]
    # Why it failed: the server's last answer, the address taken out.
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self):
        return f"<MailLog {self.outbox_id} {self.kind} {self.outcome}>"


class AlertSubscription(db.Model):
    """An e-mail address that asked to be told of new notices (notices/alerts.py).

    Three kinds: a search (``q``, ``notice_kind``, ``issuer``, as /search takes them), a type
    (``notice_kind`` alone) and a watched document number (``number_hash``, a keyed hash of
    the normalized number, and ``number_masked`` for the mail; never the number). The address
    is kept only to send to and never shown on a page; unsubscribing deletes the row.
    """

    __tablename__ = "alert_subscription"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    # "search", "type" or "number".
    what: Mapped[str] = mapped_column(String(16))
    email: Mapped[str] = mapped_column(String(320))
    # mail.recipient_hash of the address: how many subscriptions one address holds, by hash.
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    q: Mapped[str | None] = mapped_column(String(200))
    notice_kind: Mapped[str | None] = mapped_column(String(32))
    issuer: Mapped[str | None] = mapped_column(String(100))
    number_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    number_masked: Mapped[str | None] = mapped_column(String(60))
    # "immediate" or "daily".
    frequency: Mapped[str] = mapped_column(String(16), default="immediate")
    # Part of every signed link: a link made for a deleted subscription never opens another.
    nonce: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # None until the link in the confirmation mail is followed; unconfirmed rows expire.
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    matches: Mapped[list["AlertMatch"]] = relationship(
        back_populates="subscription", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self):
        return f"<AlertSubscription {self.id} {self.what} {self.frequency}>"


class AlertMatch(db.Model):
    """A notice published for a daily subscriber, waiting for that board day's digest."""

    __tablename__ = "alert_match"
    __table_args__ = (db.UniqueConstraint("subscription_id", "notice_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("alert_subscription.id", ondelete="CASCADE"), index=True
    )
    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id"))
    # The board day (Asia/Shanghai) of the publication: the digest it belongs to.
    day: Mapped[date] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    subscription: Mapped[AlertSubscription] = relationship(back_populates="matches")
    notice: Mapped[Notice] = relationship()

    def __repr__(self):
        return f"<AlertMatch {self.subscription_id} {self.notice_id} {self.day}>"


class NumberKey(db.Model):
    """The fingerprint of the key document numbers are hashed with (documents.number_hash).

    One row, written with the first hashes; `flask init-db` refuses to go on with another
    key, which would leave every stored hash unmatched.
    """

    __tablename__ = "number_key"

    # Always 1.
    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(16))

    def __repr__(self):
        return f"<NumberKey {self.fingerprint}>"


# What an authority records of an objection, in order: received (by the board), accepted,
# forwarded, resolved; "resolved" closes it.
OBJECTION_STATUSES = ("received", "accepted", "forwarded", "resolved")


class Objection(db.Model):
    """A worker's objection to a wage-clearance notice (notices/objections): what is owed, and
    to whom it goes.

    The objector's name and phone are seen by the authority and editors only; the public
    learns how many objections a notice received and how many were resolved, nothing more.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    # The objector's reference, shown on the tracking page, e.g. YY-20261127-7K3QX.
    ref: Mapped[str] = mapped_column(String(24), unique=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id"), index=True)
    # The notice's authority when the objection was made: who sees it (User.authority).
    authority: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(32))
    # What is owed, in fen (分): exact, and the same on every database; up to 99,999,999.99
    # yuan, past a 32-bit integer.
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    period: Mapped[str] = mapped_column(String(100))
    work: Mapped[str] = mapped_column(String(200))
    details: Mapped[str | None] = mapped_column(Text)
    # SHA-256 of the private tracking token, as for submissions.
    tracking_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # One of OBJECTION_STATUSES: the last handling recorded.
    status: Mapped[str] = mapped_column(String(16), default="received")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    notice: Mapped[Notice] = relationship()
    events: Mapped[list["ObjectionEvent"]] = relationship(
        back_populates="objection", order_by="ObjectionEvent.id", cascade="all, delete-orphan"
    )

    def __repr__(self):
        return f"<Objection {self.ref} {self.status}>"


class ObjectionEvent(db.Model):
    """One step of an objection's handling, with its note, who recorded it and when; rows are
    only ever added."""

    __tablename__ = "objection_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    objection_id: Mapped[int] = mapped_column(ForeignKey("objection.id"), index=True)
    # accepted (受理), forwarded (已转交) or resolved (已解决).
    action: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # Kept as text too, so the history still reads right if an account is renamed.
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    objection: Mapped[Objection] = relationship(back_populates="events")

    def __repr__(self):
        return f"<ObjectionEvent {self.action} by {self.actor}>"


class PurgeRun(db.Model):
    """One run of `flask purge` that removed something: what, how much, when (notices/privacy.py).

    A run that finds nothing due writes no row, so running it twice on one day records once.
    """

    __tablename__ = "purge_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The board day the retention periods were counted to (--today).
    day: Mapped[date] = mapped_column(index=True)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # {what: how many}: contacts, unpublished, subscriptions, mail_log, mail_outbox.
    counts: Mapped[dict] = mapped_column(JSON)

    def __repr__(self):
        return f"<PurgeRun {self.day} {self.counts}>"
