"""The only code that writes objections: making one, and recording its handling.

Each function checks what it is asked, writes the objection (or its next step), its mail and
its history in one transaction, and raises :class:`ObjectionError` when it refuses; nothing
is written then. Callers read the clock once and pass ``now`` (aware).

The public sees two numbers per wage notice, how many objections it received and how many
were resolved (:func:`counts`). A notice's permalink is kept by every worker as rendered
(notices/pages.py), keyed by the notice's status and those two numbers, read in one statement
on every request (board.permalink_state), so a new or resolved objection shows on the next
request to any worker without touching the generation every listing is kept under: no
listing shows them.
"""
import secrets

from sqlalchemy import func
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from notices import expiry
from notices.documents import mask_id_numbers
from notices.extensions import db
from notices.kinds.wage_clearance import DEFAULT_AUTHORITY
from notices.mail.outbox import queue
from notices.mail.submitters import BOARD_NAME
from notices.models import Notice
from notices.models import Objection
from notices.models import ObjectionEvent
from notices.services import REF_ALPHABET
from notices.services import hash_token
from notices.urls import public_url
from notices.wording import board_time

WAGE_KIND = "wage_clearance"
# The objector's reference: 异议 (YY), the board day, five random letters.
REF_PREFIX = "YY"

# What the objector and the public read for each status.
STATUS_NAMES = {
    "received": "已收到,待受理",
    "accepted": "已受理",
    "forwarded": "已转交",
    "resolved": "已解决",
}
# The handling an authority records, as its buttons name it, and the status each leaves.
ACTIONS = {"accepted": "受理", "forwarded": "已转交", "resolved": "已解决"}
# From which statuses each step may be recorded: a resolved objection is closed.
ALLOWED_FROM = {
    "accepted": ("received",),
    "forwarded": ("received", "accepted", "forwarded"),
    "resolved": ("received", "accepted", "forwarded"),
}
MAX_NOTE = 500
CLOSED_MESSAGE = "这份公示的异议期已结束,或公示已撤销,不再接受新的异议。如仍有工资未结清,请直接向劳动保障部门反映。"


class ObjectionError(Exception):
    """A refused objection or step; ``field`` names what was wrong, ``message`` says why."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field, self.message = field, message


def is_open(notice, today):
    """Return whether ``notice`` takes objections on ``today``: a published wage notice whose
    window (its 异议期, counted in Asia/Shanghai days) has begun and not ended."""
    return (
        notice.kind == WAGE_KIND
        and notice.status == "published"
        and expiry.is_open(notice.window_start, today)
        and not expiry.is_expired(notice.window_end, today)
    )


def submit(notice, *, name, phone, amount_fen, period, work, details=None, now):
    """Store an objection to ``notice`` and queue its mail to the contractor; return it and
    its private tracking token. Refused once the notice's window has closed."""
    if not is_open(notice, expiry.board_today(now)):
        raise ObjectionError("notice", CLOSED_MESSAGE)
    if not 0 < amount_fen <= 10**10:
        raise ObjectionError("amount", "金额应大于0且不超过1亿元")
    token = secrets.token_urlsafe(24)
    objection = Objection(
        notice_id=notice.id,
        authority=notice.fields.get("authority") or DEFAULT_AUTHORITY,
        name=name, phone=phone, amount_fen=amount_fen, period=period, work=work,
        details=details or None,
        tracking_hash=hash_token(token),
        status="received",
        created_at=now,
    )
    # The unique index settles the rare collision of references, and we draw again.
    for _ in range(5):
        objection.ref = _draw_ref(expiry.board_today(now))
        db.session.add(objection)
        if notice.submitter_email:
            _mail_contractor(notice, objection, now)
        try:
            db.session.commit()
            return objection, token
        except IntegrityError:
            db.session.rollback()
    raise RuntimeError("could not draw a free objection reference")


def _draw_ref(day):
    suffix = "".join(secrets.choice(REF_ALPHABET) for _ in range(5))
    return f"{REF_PREFIX}-{day:%Y%m%d}-{suffix}"


def _mail_contractor(notice, objection, now):
    """Queue word of ``objection`` to the address the contractor gave with the notice.

    The objector's phone stays with the authority and the editors: the contractor learns who
    objects and what is owed, and settles it through the authority.
    """
    fields = notice.fields
    body = [
        f"{mask_id_numbers(fields['contractor'])}:",
        "",
        f"您在{BOARD_NAME}发布的民工工资结清公示(编号 {notice.ref},"
        f"项目“{mask_id_numbers(fields['project_name'])}”)于 {board_time(now)} 收到一份异议"
        f"(异议编号 {objection.ref}),已转{mask_id_numbers(objection.authority)}处理:",
        "",
        f"异议人:{mask_id_numbers(objection.name)}",
        f"反映拖欠金额:{amount_text(objection.amount_fen)}",
        f"拖欠期间:{mask_id_numbers(objection.period)}",
        f"所做工作:{mask_id_numbers(objection.work)}",
        "",
        f"请与{mask_id_numbers(objection.authority)}联系核实处理。公示页面:",
        public_url("public.notice", ref=notice.ref),
        "",
        "-- ",
        f"{BOARD_NAME}",
        "本邮件由系统自动发送,请勿直接回复。",
    ]
    queue(
        "objection", notice.submitter_email,
        f"【{BOARD_NAME}】您的民工工资结清公示收到异议(编号 {notice.ref})",
        "\n".join(body) + "\n", now=now, dedupe_key=f"objection:{objection.ref}",
    )


def amount_text(fen):
    """Return an amount in fen as people write it: 12,500元, 12,500.50元."""
    yuan, rest = divmod(fen, 100)
    return f"{yuan:,}.{rest:02d}元" if rest else f"{yuan:,}元"


def clean_note(note):
    """Return a handling note stripped, or raise ObjectionError on ``note``."""
    note = (note or "").strip()
    if not note:
        raise ObjectionError("note", "请填写处理说明")
    if len(note) > MAX_NOTE:
        raise ObjectionError("note", f"处理说明不能超过{MAX_NOTE}个字")
    return note


def record(objection, user, action, note, *, now):
    """Record one step of handling ``objection`` by ``user`` (受理, 已转交, 已解决) with a note.

    The UPDATE names the statuses the step may follow, so two people recording at once
    cannot both close it; the step is added to the history, never changed.
    """
    if action not in ACTIONS:
        raise ObjectionError("action", "请选择处理结果:" + "、".join(ACTIONS.values()))
    note = clean_note(note)
    allowed = ALLOWED_FROM[action]
    if objection.status not in allowed:
        raise ObjectionError("action", f"异议当前状态为“{STATUS_NAMES[objection.status]}”,不能记为“{ACTIONS[action]}”")
    result = db.session.execute(
        update(Objection)
        .where(Objection.id == objection.id, Objection.status.in_(allowed))
        .values(status=action)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise ObjectionError("action", "异议状态已被他人更改,请刷新后再试")
    db.session.add(ObjectionEvent(
        objection_id=objection.id, action=action, note=note,
        user_id=user.id, actor=user.username, created_at=now,
    ))
    db.session.commit()
    db.session.refresh(objection)


def visible_to(user):
    """Return the SELECT of the objections ``user`` may see: an authority's own, or all."""
    query = db.select(Objection)
    if user.is_authority:
        query = query.where(Objection.authority == user.authority)
    return query


def counts(notice_id):
    """Return (received, resolved): how many objections ``notice_id`` has had, and resolved."""
    received, resolved = db.session.execute(
        db.select(
            func.count(Objection.id),
            func.count(Objection.id).filter(Objection.status == "resolved"),
        ).where(Objection.notice_id == notice_id)
    ).one()
    return received, resolved


def public_counts(notice):
    """Return what the public is told of ``notice``'s objections, or None if it takes none."""
    if notice.kind != WAGE_KIND:
        return None
    received, resolved = counts(notice.id)
    return {"received": received, "resolved": resolved}


def find_by_token(token):
    return db.session.scalar(db.select(Objection).where(Objection.tracking_hash == hash_token(token)))


def notice_of(ref):
    return db.session.scalar(db.select(Notice).where(Notice.ref == ref))

