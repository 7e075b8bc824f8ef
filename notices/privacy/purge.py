"""``flask purge``: remove the personal data whose retention period has ended.

One run is one transaction and one :class:`PurgeRun` row naming what it removed, with an
audit entry on every notice it changed; a run that finds nothing due writes nothing, so a
second run on the same day changes nothing and records nothing. What is due is decided by
the same day arithmetic the privacy notice states and a submitter's download shows
(:func:`notices.privacy.removal_dates`):

- a published or revoked notice keeps its public record and its audit trail; the
  submitter's name and phone become :data:`MARKER` and the e-mail address goes, the day
  after ``RETAIN_CONTACTS_DAYS`` have passed since its window ended;
- a rejected or withdrawn submission, ``RETAIN_UNPUBLISHED_DAYS`` after it was closed, loses
  all of it: the contacts, every text field (names, projects, requirements), the loss items'
  owners and document numbers; its ref, type, status, dates and audit trail stay;
- alert subscriptions left unconfirmed past ``ALERT_CONFIRM_DAYS`` (``flask send-mail`` deletes
  them too, by the hour; this is the daily sweep that does not depend on the mail worker);
- the mail log (keyed hashes of addresses) and mail never sent, ``RETAIN_MAIL_DAYS`` after;
- an objection's name, phone and what the objector wrote, ``RETAIN_OBJECTIONS_DAYS`` after it
  was resolved, or, if no one ever resolved it, once its notice's submitter contacts go; the
  amount and the handling history stay, and so do the notice's public counts.

Public pages do not change: nothing a purge touches is published. On SQLite, deleted bytes
would stay readable in free pages and in the write-ahead log, so every connection runs with
``secure_delete`` (notices/extensions.py) and the run ends with a TRUNCATE checkpoint that
empties the log into the file.
"""
from flask import current_app
from sqlalchemy import delete
from sqlalchemy import select
from wtforms import SelectFieldBase

from notices import privacy
from notices.extensions import db
from notices.models import AlertSubscription
from notices.models import AuditEntry
from notices.models import MailLog
from notices.models import MailOutbox
from notices.models import Notice
from notices.models import Objection
from notices.models import ObjectionEvent
from notices.models import PurgeRun
from notices.privacy import MARKER

# What a purge's audit entries say.
CONTACTS_REASON = "保存期满,删除提交人联系方式"
CONTENT_REASON = "保存期满,删除全部个人信息"


def purge(today, *, now):
    """Remove what is due on board day ``today``; return {what: how many} (empty if nothing)."""
    days = privacy.periods(current_app.config)
    counts = {
        "contacts": _purge_contacts(today, days["contacts"], now),
        "unpublished": _purge_unpublished(today, days["unpublished"], now),
        "subscriptions": _delete(
            AlertSubscription,
            AlertSubscription.confirmed_at.is_(None),
            AlertSubscription.created_at < _cutoff(today, days["unconfirmed"]),
        ),
        "mail_log": _delete(MailLog, MailLog.finished_at < _cutoff(today, days["mail"])),
        "mail_outbox": _delete(MailOutbox, MailOutbox.created_at < _cutoff(today, days["mail"])),
        "objections": _purge_objections(today, days["objections"], days["contacts"]),
    }
    counts = {what: count for what, count in counts.items() if count}
    if not counts:
        db.session.rollback()
        return counts
    db.session.add(PurgeRun(day=today, ran_at=now, counts=counts))
    db.session.commit()
    current_app.logger.info("purge %s: %s", today.isoformat(), counts)
    checkpoint()
    return counts


def _cutoff(today, days):
    """Return the instant before which something kept ``days`` days is due on ``today``."""
    return privacy.day_start(privacy.kept_through(today, days))


def _delete(model, *where):
    return db.session.execute(delete(model).where(*where)).rowcount


def _audit(notice, reason, now):
    notice.events.append(AuditEntry(action="purge", actor="系统", reason=reason, created_at=now))


def _remove_contacts(notice, now):
    notice.submitter_name = MARKER
    notice.submitter_phone = MARKER
    # None, not a marker: nothing is ever sent to it.
    notice.submitter_email = None
    notice.contacts_purged_at = now


def _purge_contacts(today, days, now):
    due = db.session.scalars(
        select(Notice).where(
            Notice.status.in_(privacy.KEPT_PUBLIC),
            Notice.contacts_purged_at.is_(None),
            Notice.window_end < privacy.kept_through(today, days),
        ).order_by(Notice.id)
    ).all()
    for notice in due:
        _remove_contacts(notice, now)
        _audit(notice, CONTACTS_REASON, now)
    return len(due)


def _purge_unpublished(today, days, now):
    due = db.session.scalars(
        select(Notice).where(
            Notice.status.in_(privacy.UNPUBLISHED),
            Notice.content_purged_at.is_(None),
            Notice.closed_at < _cutoff(today, days),
        ).order_by(Notice.id)
    ).all()
    for notice in due:
        if notice.contacts_purged_at is None:
            _remove_contacts(notice, now)
        notice.fields = scrubbed_fields(notice)
        for item in notice.items:
            item.owner_name = MARKER
            item.document_number = MARKER
            # The keyed hash identifies the number as well as the number does.
            item.number_hash = MARKER
            if item.document_type_other:
                item.document_type_other = MARKER
        notice.content_purged_at = now
        _audit(notice, CONTENT_REASON, now)
    return len(due)


def _purge_objections(today, days, contacts_days):
    resolved = (
        select(ObjectionEvent.objection_id)
        .where(ObjectionEvent.action == "resolved", ObjectionEvent.created_at < _cutoff(today, days))
    )
    never_resolved = (
        select(Notice.id).where(Notice.window_end < privacy.kept_through(today, contacts_days))
    )
    due = db.session.scalars(
        select(Objection).where(
            Objection.name != MARKER,
            (Objection.id.in_(resolved))
            | ((Objection.status != "resolved") & Objection.notice_id.in_(never_resolved)),
        ).order_by(Objection.id)
    ).all()
    for objection in due:
        objection.name = objection.phone = objection.period = objection.work = MARKER
        objection.details = None
    return len(due)


def scrubbed_fields(notice):
    """Return a notice's fields with everything typed replaced: choices picked from a list
    (the scopes of a call) stay, so the submission still reads as its type."""
    declared = notice.kind_def.declared
    fields = {}
    for name, value in notice.fields.items():
        unbound = declared.get(name)
        picked = unbound is not None and issubclass(unbound.field_class, SelectFieldBase)
        fields[name] = value if picked else _scrubbed(value)
    return fields


def _scrubbed(value):
    if isinstance(value, str):
        return MARKER if value else value
    if isinstance(value, list):
        # Lines of text become one marker; sites (name and address) go altogether.
        return [MARKER] if value and all(isinstance(v, str) for v in value) else []
    return value


def checkpoint():
    """Empty SQLite's write-ahead log into the database file, so removed rows leave the disk;
    return SQLite's (busy, log frames, checkpointed frames), or None on PostgreSQL."""
    if db.engine.dialect.name != "sqlite":
        return None
    db.session.remove()
    # The DBAPI connection itself, in autocommit: a checkpoint inside a transaction, as the
    # engine's connections begin one, could not truncate the log.
    raw = db.engine.raw_connection()
    try:
        return tuple(raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())
    finally:
        raw.close()
