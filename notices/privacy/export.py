"""Everything the board holds about one submission, for its submitter (PIPL Art. 45).

Reached only through the private tracking address; the file carries the submission's fields
as typed (document numbers in full: it is the submitter's own data), the contacts, the
consent, the history with times, the mails written to the submitter as the mail log records
them, and when each part will be removed by ``flask purge``.
"""
from flask import current_app
from sqlalchemy import select

from notices import expiry
from notices import privacy
from notices.extensions import db
from notices.models import MailLog
from notices.models import MailOutbox
from notices.services import STATUS_NAMES
from notices.templating import ACTION_NAMES
from notices.urls import public_url

# The mails the board writes to a submitter, by the dedupe key it writes each under
# (notices/mail/submitters.py: "<action>:<ref>").
SUBMITTER_MAILS = ("receipt", "approve", "reject", "revoke", "withdraw")


def _iso(moment):
    return moment.astimezone(expiry.BOARD_TZ).isoformat() if moment else None


def _day(day):
    return day.isoformat() if day else None


def export(notice, now):
    """Return the submission ``notice`` as a JSON-ready dict, as of the instant ``now``."""
    config = current_app.config
    days = privacy.periods(config)
    removal = privacy.removal_dates(notice, config)
    kind = notice.kind_def
    return {
        "exported_at": _iso(now),
        "privacy_notice": {"url": public_url("privacy.notice"), "version": privacy.PRIVACY_VERSION},
        "ref": notice.ref,
        "type": notice.kind,
        "type_name": kind.name,
        "status": notice.status,
        "status_name": STATUS_NAMES[notice.status],
        "submitted_at": _iso(notice.submitted_at),
        "published_at": _iso(notice.published_at),
        "window_start": _day(notice.window_start),
        "window_end": _day(notice.window_end),
        "closed_at": _iso(notice.closed_at),
        "reason": notice.reason,
        "fields": kind.fields_of(notice, masked=False),
        "submitter": {
            "submitter_name": notice.submitter_name,
            "submitter_phone": notice.submitter_phone,
            "submitter_email": notice.submitter_email,
        },
        "consent_publication": {
            "given_at": _iso(notice.consent_at),
            "privacy_version": notice.consent_version,
        },
        "history": [
            {
                "action": event.action,
                "action_name": ACTION_NAMES.get(event.action, event.action),
                "by": "编辑" if event.user_id else event.actor,
                "at": _iso(event.created_at),
                "reason": event.reason,
            }
            for event in notice.events
        ],
        "mails": _mails(notice, days["mail"]),
        "retention": {
            "contacts": {
                "removed_on": _day(removal["contacts"]),
                "removed_at": _iso(notice.contacts_purged_at),
                "rule": f"公告公示期结束后{days['contacts']}天删除;未发布的提交在审核结束或撤回后"
                f"{days['unpublished']}天删除",
            },
            "content": {
                "removed_on": _day(removal["content"]),
                "removed_at": _iso(notice.content_purged_at),
                "rule": f"已发布的公告是公开记录,永久保存;未发布的提交在审核结束或撤回后"
                f"{days['unpublished']}天删除",
            },
            "mails": {"rule": f"发信记录在发出后{days['mail']}天删除"},
            "document_numbers": {
                "rule": "完整的证件号码只保存到审核结束;此后只保留公开页面显示的部分隐去的号码,"
                "以及供查询比对的加密校验值",
            },
        },
    }


def _mails(notice, days):
    """Return the mails written to the submitter: sent or given up (the log), and waiting."""
    keys = [f"{action}:{notice.ref}" for action in SUBMITTER_MAILS]
    logged = db.session.scalars(
        select(MailLog).where(MailLog.dedupe_key.in_(keys)).order_by(MailLog.id)
    )
    waiting = db.session.scalars(
        select(MailOutbox).where(MailOutbox.dedupe_key.in_(keys)).order_by(MailOutbox.id)
    )
    mails = [
        {
            "kind": row.kind,
            "outcome": row.outcome,
            "queued_at": _iso(row.created_at),
            "finished_at": _iso(row.finished_at),
            "removed_on": _day(privacy.removed_on(expiry.board_today(row.finished_at), days)),
        }
        for row in logged
    ]
    mails += [
        {
            "kind": row.kind,
            "outcome": "waiting",
            "to": row.recipient,
            "subject": row.subject,
            "queued_at": _iso(row.created_at),
            "removed_on": _day(privacy.removed_on(expiry.board_today(row.created_at), days)),
        }
        for row in waiting
    ]
    return mails
