"""The only code that changes a notice: submit, approve, reject, withdraw, revoke, expire.

Each function checks the transition, writes the notice, its audit entry, the mail to its
submitter (notices/mail) and, on publication, the alerts of its subscribers (notices/alerts)
in one transaction, and raises :class:`NoticeError` when it
refuses; nothing is written then.
Callers read the clock once and pass ``now`` (aware), so every rule is testable at any instant.
"""
import base64
import hashlib
import hmac
import json
import secrets

from flask import current_app
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from notices import board
from notices import corrections
from notices import documents
from notices import expiry
from notices import forms
from notices import kinds
from notices import search
from notices.alerts import subscriptions as alerts
from notices.extensions import db
from notices.mail import submitters
from notices.models import AuditEntry
from notices.models import LossItem
from notices.models import Notice
from notices.models import NumberKey
from notices.privacy import PRIVACY_VERSION

# Crockford's base-32 letters: no I, L, O or U to misread when a ref is read out by phone.
REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

STATUS_NAMES = {
    "submitted": "待审核",
    "published": "已发布",
    "rejected": "未通过",
    "withdrawn": "已撤回",
    "revoked": "已撤销",
}

# What a submitter over FLASK_SUBMIT_RATE_LIMIT is told, on the form and by the API; the
# limit itself and when to try again follow it (notices/errors.py).
SUBMIT_LIMIT_MESSAGE = "提交过于频繁。为防止滥用,每个网络地址可提交的公告数量有限。"

# Transitions that change what the public search finds, and the public listings show.
INDEXED_ACTIONS = ("approve", "revoke")

# How each transition is named in a refusal: 不能发布, 不能撤销 …
ACTIONS = {"approve": "发布", "reject": "退回", "withdraw": "撤回", "revoke": "撤销"}


class NoticeError(Exception):
    """A refused submission or transition; ``errors`` maps field names to messages."""

    def __init__(self, errors, form=None):
        super().__init__(errors)
        self.errors = errors
        # The refused form, so a page can show it again with everything the person typed.
        self.form = form

    @classmethod
    def on(cls, field, message):
        return cls({field: [message]})

    @property
    def message(self):
        return "; ".join(m for messages in self.errors.values() for m in _flatten(messages))


def _flatten(messages):
    for message in messages:
        if isinstance(message, dict):
            for inner in message.values():
                yield from _flatten(inner)
        elif isinstance(message, list):
            yield from _flatten(message)
        else:
            yield message


def hash_token(token):
    return hashlib.sha256(token.encode()).hexdigest()


def kind_of(body):
    """Return the notice type a submission body names in ``type``, or raise NoticeError.

    The API and the bulk import both ask this, so an unknown type is refused in the same words.
    """
    kind = kinds.get(body.get("type")) if isinstance(body.get("type"), str) else None
    if kind is None:
        raise NoticeError.on("type", f"type must be one of: {', '.join(kinds.KINDS)}")
    return kind


def flatten(data):
    """Return a JSON-shaped submission as form fields, or raise NoticeError for a bad shape.

    Lists repeat their field (``scopes``) and loss items become ``items-0-owner_name`` …, the
    names the HTML form posts, so one form validates both.
    """
    pairs = []

    def scalar(name, value):
        # Every field name passes here too, the names inside loss items included.
        _encodable("fields", name)
        if value is None:
            return ""
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return _encodable(name, str(value))
        raise NoticeError.on(name, "应为文字或数字")

    for name, value in data.items():
        if name == forms.CONSENT_FIELD:
            # Only JSON true consents; anything else is as if it were missing, and the form
            # says so beside the other fields' errors.
            if value is True:
                pairs.append((name, "y"))
        elif name == "items":
            if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
                raise NoticeError.on("items", "应为证件列表,每项包含 owner_name、document_type、document_number")
            for i, item in enumerate(value):
                pairs += [(f"items-{i}-{key}", scalar(f"items-{i}-{key}", sub)) for key, sub in item.items()]
        elif isinstance(value, list):
            pairs += [(name, scalar(name, v)) for v in value]
        else:
            pairs.append((name, scalar(name, value)))
    return pairs


def _encodable(name, text):
    """Return ``text`` if it can be stored and shown, or refuse it.

    JSON can carry half a UTF-16 surrogate pair ("\\ud800"), which is no character at all:
    no page, database or index could encode it. Form posts never do (undecodable bytes
    become U+FFFD), so only the JSON path needs this.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NoticeError.on(name, "含有无法识别的字符,请删除后重新输入") from None
    return text


def field_errors(form):
    """Return a validated form's errors keyed by the names it posts: items-0-document_number.

    WTForms nests FieldList errors by position and drops the positions of valid entries;
    flat names say exactly which row is wrong, on the page and in the API.
    """
    errors = {}
    for field in form:
        entries = getattr(field, "entries", None)
        if entries is None:
            if field.errors:
                errors[field.name] = list(field.errors)
            continue
        for entry in entries:
            for sub in entry.form:
                if sub.errors:
                    errors[sub.name] = list(sub.errors)
        own = [e for e in field.errors if isinstance(e, str)]
        if own:
            errors[field.name] = own
    return errors


def validate(kind, formdata, today, *, asks_consent=True):
    """Return the type's form filled from ``formdata`` and validated, or raise NoticeError.

    The one validation path behind the HTML forms, the submission API and the seed loader.
    ``asks_consent`` is False only where the board collects no consent itself (see
    forms.consent_given).
    """
    if not isinstance(formdata, MultiDict):
        formdata = MultiDict(formdata)
    form = kind.form(formdata=formdata, meta={"csrf": False})
    form.today = today
    form.asks_consent = asks_consent
    if not form.validate():
        raise NoticeError(field_errors(form), form=form)
    return form


def token_for(key, formdata):
    """Return the tracking token a submission key and its content stand for.

    The token is derived from both with the app's secret, so a form confirmed twice (a
    double tap, Back and confirm again, a retried request) finds the notice it already made
    and its tracking page, instead of storing a duplicate. The content is part of it because
    an API client chooses its own keys: someone who guesses a key learns nothing unless they
    also send the very same submission. Neither key nor token is stored.
    """
    content = json.dumps(sorted(MultiDict(formdata).items(multi=True)), ensure_ascii=False)
    secret = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(secret, f"{key}\n{content}".encode(), hashlib.sha256).digest()[:24]
    return base64.urlsafe_b64encode(digest).decode()


def _existing(token):
    return db.session.scalar(db.select(Notice).where(Notice.tracking_hash == hash_token(token)))


def submit(kind, formdata, *, now, key=None, asks_consent=True):
    """Store a valid submission as ``submitted``; return it and its private tracking token.

    With a ``key`` (the preview's one-time key, or an API Idempotency-Key) the same key
    always returns the same notice, stored once. The consent to publish is recorded with
    the privacy notice's version; ``asks_consent=False`` (the seed notices) records none.
    """
    token = token_for(key, formdata) if key else secrets.token_urlsafe(24)
    if key and (existing := _existing(token)) is not None:
        return existing, token
    form = validate(kind, formdata, expiry.board_today(now), asks_consent=asks_consent)
    consented = bool(form.consent_publication.data)
    notice = Notice(
        kind=kind.code,
        status="submitted",
        fields=kind.fields_from_form(form),
        submitter_name=form.submitter_name.data,
        submitter_phone=form.submitter_phone.data,
        submitter_email=form.submitter_email.data or None,
        tracking_hash=hash_token(token),
        window_start=form.window_start.data if kind.submitter_sets_window else None,
        submitted_at=now,
        consent_at=now if consented else None,
        consent_version=PRIVACY_VERSION if consented else None,
    )
    notice.items = [
        LossItem(position=i, number_hash=documents.number_hash(item["document_number"]), **item)
        for i, item in enumerate(kind.items_from_form(form))
    ]
    notice.events.append(AuditEntry(action="submit", actor="提交人", created_at=now))
    if not _insert_with_ref(notice, kind, now, token):
        # The same key was confirmed at the same moment by another request: it won.
        return _existing(token), token
    return notice, token


def _insert_with_ref(notice, kind, now, token):
    """Store ``notice`` under a fresh reference, with the submitter's receipt mail if they
    gave an address; return False if its token is already taken."""
    # The unique index settles the rare collision, and we draw again.
    for _ in range(5):
        notice.ref = draw_ref(kind, expiry.board_today(now))
        db.session.add(notice)
        try:
            if notice.submitter_email:
                # Now or never: the token is not stored, and the receipt carries it.
                submitters.receipt(notice, token, now)
            db.session.commit()
            return True
        except IntegrityError:
            db.session.rollback()
            if db.session.scalar(
                db.select(Notice.id).where(Notice.tracking_hash == notice.tracking_hash)
            ):
                return False
    raise RuntimeError("could not draw a free reference number")


def draw_ref(kind, day):
    """Return a fresh reference for a notice of ``kind`` submitted on ``day``: GY-20240308-7K3QX.

    A random suffix keeps refs from revealing how many notices were submitted; it may be taken
    already, which the caller checks (the column is unique).
    """
    suffix = "".join(secrets.choice(REF_ALPHABET) for _ in range(5))
    return f"{kind.ref_prefix}-{day:%Y%m%d}-{suffix}"


def refusal(notice, allowed, action):
    """Return why ``notice`` cannot take ``action`` from its status, or None if it can."""
    if notice.status in allowed:
        return None
    return NoticeError.on("status", f"公告当前状态为“{STATUS_NAMES[notice.status]}”,不能{ACTIONS[action]}")


def _transition(notice, allowed, action, user, now, reason=None, **values):
    """Move ``notice`` out of one of the ``allowed`` statuses, atomically, with its audit entry.

    The UPDATE names the expected statuses, so two editors clicking at once cannot both win.
    """
    if reason is not None:
        reason = values["reason"] = documents.mask_id_numbers(reason)
    if (refused := refusal(notice, allowed, action)) is not None:
        raise refused
    values.update(sealed(notice))
    result = db.session.execute(
        update(Notice)
        .where(Notice.id == notice.id, Notice.status.in_(allowed))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise NoticeError.on("status", f"公告状态已被他人更改,不能{ACTIONS[action]}")
    db.session.flush()  # the sealed items, before anything reads them back
    if action in INDEXED_ACTIONS:
        # In this transaction: an outbox row for Whoosh, the search row itself on PostgreSQL.
        search.record(notice, now)
        if notice.corrects_id is not None:
            # A correction published or revoked: the notice it corrects leaves the search.
            search.record(notice.corrects, now)
        board.touch_generation()
    if notice.submitter_email or action == "approve":
        # The UPDATE went around the session: the mail tells of the notice as it now is.
        db.session.refresh(notice)
    if notice.submitter_email:
        submitters.ON_TRANSITION[action](notice, now)
    if action == "approve":
        # Subscribers' alerts and digest entries, in this transaction (notices/alerts).
        alerts.published(notice, now)
    db.session.add(
        AuditEntry(
            notice_id=notice.id,
            action=action,
            user_id=user.id if user else None,
            actor=user.username if user else "提交人",
            reason=reason,
            created_at=now,
        )
    )
    db.session.commit()
    db.session.refresh(notice)
    if action in INDEXED_ACTIONS and current_app.config["SEARCH_INDEX_ON_COMMIT"]:
        search.drain_quietly()



def publication_window(notice, today):
    """Return the window (start, end) ``notice`` would get if approved on ``today``, or raise
    NoticeError saying why it cannot be: the confirm page and :func:`approve` both ask."""
    if (refused := refusal(notice, ("submitted",), "approve")) is not None:
        raise refused
    if notice.corrects_id is not None:
        # A correction keeps the window it was asked with (notices/corrections.py).
        return corrections.window_of(notice, today)
    if notice.kind_def.submitter_sets_window:
        start = notice.window_start
        if start < today:
            raise NoticeError.on(
                "window_start", "征集开始日期已过,请联系提交人确定新的开始日期后再发布"
            )
    else:
        start = today
    return start, expiry.window_end(start, current_app.config["NOTICE_WINDOW_DAYS"])


def approve(notice, editor, *, now):
    """Publish a submitted notice now, opening its window."""
    today = expiry.board_today(now)
    start, end = publication_window(notice, today)
    if notice.corrects_id is not None:
        corrections.on_approval(notice, editor, now)
    _transition(
        notice, ("submitted",), "approve", editor, now,
        status="published", published_at=now, published_on=today,
        window_start=start, window_end=end,
    )


def clean_reason(reason):
    """Return a rejection or revocation reason stripped, or raise NoticeError on ``reason``."""
    reason = (reason or "").strip()
    if not reason:
        raise NoticeError.on("reason", "请填写理由")
    if len(reason) > 1000:
        raise NoticeError.on("reason", "理由不能超过1000个字")
    return reason


def reject(notice, editor, reason, *, now):
    """Refuse a submitted notice; the reason is shown to the submitter."""
    reason = clean_reason(reason)
    _transition(
        notice, ("submitted",), "reject", editor, now, reason=reason,
        status="rejected", closed_at=now,
    )


def withdraw(notice, *, now):
    """Let the submitter take back a notice still waiting for review."""
    _transition(notice, ("submitted",), "withdraw", None, now, status="withdrawn", closed_at=now)


def revoke(notice, editor, reason, *, now):
    """Revoke a published notice; it stays at its permalink with the public reason."""
    reason = clean_reason(reason)
    if (later := notice.correction) is not None:
        # What the public reads now is the correction; revoking it revokes the notice.
        raise NoticeError.on("status", f"本公告已由 {later.ref} 更正,请撤销更正后的公告 {later.ref}")
    _transition(
        notice, ("published",), "revoke", editor, now, reason=reason,
        status="revoked", closed_at=now,
    )


def expire_due(today, *, now):
    """Record expiry of every published notice whose window ended before ``today``.

    Only the record: pages and the API already compute expiry from the dates.
    """
    due = db.session.scalars(
        db.select(Notice).where(
            Notice.status == "published",
            Notice.expired_at.is_(None),
            ~expiry.active_clause(Notice.window_end, today),
            # A corrected notice ends with its correction's window, as its page says.
            board.current_clause(),
        )
    ).all()
    for notice in due:
        while notice is not None and notice.expired_at is None:
            notice.expired_at = now
            notice.events.append(AuditEntry(action="expire", actor="系统", created_at=now))
            notice = notice.corrects
    if due:
        # The listings already left these out by date; the record changes with a generation
        # all the same, so that no kept page outlives a change to what it was made from.
        board.touch_generation()
    db.session.commit()
    return len(due)


def sealed(notice):
    """Seal a notice at its decision; return the notice's columns to write with it.

    Every decision (approve, reject, withdraw; a revocation finds it sealed already) is the
    moment a full document number stops being needed: its items keep the public form and
    the keyed hash (LossItem.seal), and any ID number typed elsewhere (a name, a title, a
    project, the submitter's name) is kept masked as public pages show it, so that no full
    ID number stays in the database. What pages and the API show does not change: they
    showed exactly these masked forms before.
    """
    for item in notice.items:
        item.seal()
    return {
        "fields": documents.mask_strings(notice.fields),
        "submitter_name": documents.mask_id_numbers(notice.submitter_name),
    }


class NumberKeyChanged(Exception):
    """Document numbers are hashed with a key other than the stored hashes were made with."""


def check_number_key():
    """Record the number key's fingerprint, or raise :class:`NumberKeyChanged` if the stored
    hashes were made with another key: every lookup, duplicate warning and watch would then
    quietly find nothing, and the full numbers to hash again are gone."""
    fingerprint = documents.number_key_fingerprint()
    stored = db.session.get(NumberKey, 1)
    if stored is None:
        db.session.add(NumberKey(id=1, fingerprint=fingerprint))
        db.session.commit()
    elif stored.fingerprint != fingerprint:
        db.session.rollback()
        raise NumberKeyChanged(
            "document numbers are stored as hashes made with another key: set "
            "FLASK_NUMBER_HASH_KEY to the SECRET_KEY they were made with (README, Document numbers)"
        )
    else:
        db.session.rollback()
