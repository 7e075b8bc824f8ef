"""Alerts by e-mail: saved searches, type subscriptions and watched document numbers.

The only code that writes subscriptions. Every change is one transaction: asking (the row
and its confirmation mail), confirming, switching between immediate and daily mail,
unsubscribing (the row is deleted: the address is kept only while it is to be written to),
and the housekeeping of ``flask send-mail`` (unconfirmed rows expire; daily digests).

How a notice is matched. :func:`published` runs inside the approval's own transaction
(services._transition) and checks the newly published notice against every confirmed
subscription with the engines' own rules (search.analysis.matches, on the text the public
sees; the type; the issuer exactly, as the search's issuer filter; a loss item's number by
its keyed hash). So the mail exists exactly when the publication does (a rolled-back approval
writes none, a crash after the commit loses none), it is written once per notice and
subscriber (a dedupe key), and it does not wait for, or depend on, the search index being
up to date: Whoosh's index is written after the commit, and a worker running each saved
search "since its last check" would miss a notice the index had not reached yet, or count
one twice across a slow drain. The cost is one pass over the confirmed subscriptions per
approval, in Python; a board with many thousands of them would prefilter by type and words.

Links in mail are signed (itsdangerous, the app's secret key, one salt per purpose) and name
the row by id and a random nonce of its own, so a link outlives nothing it points to. The
confirmation link lasts ``ALERT_CONFIRM_DAYS``; manage and unsubscribe links as long as the
subscription. A watched number is kept only as its keyed hash (documents.number_hash), the
one declared numbers are kept as, so a watch matches a loss item hash to hash.
"""
import hmac
import secrets
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature
from itsdangerous import URLSafeSerializer
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import delete
from sqlalchemy import select

from notices import board
from notices import documents
from notices import expiry
from notices import kinds
from notices import wording
from notices.extensions import db
from notices.mail.outbox import queue
from notices.mail.outbox import recipient_hash
from notices.mail.submitters import BOARD_NAME
from notices.models import AlertMatch
from notices.models import AlertSubscription
from notices.models import Notice
from notices.search.analysis import matches
from notices.search.analysis import numbers_in
from notices.urls import public_url
from notices.wording import board_time

FREQUENCIES = {"immediate": "每次有新公告时", "daily": "每日汇总"}
LOSS_KIND = "loss_declaration"


class AlertError(Exception):
    """A refused request about a subscription; the message says why, in Chinese."""


# --- links -----------------------------------------------------------------------------


def _serializer(purpose, timed=False):
    secret = current_app.config["SECRET_KEY"]
    salt = f"alert-{purpose}"
    return URLSafeTimedSerializer(secret, salt=salt) if timed else URLSafeSerializer(secret, salt=salt)


def token(subscription, purpose):
    """Return the signed token of ``subscription`` for ``purpose`` (confirm, manage)."""
    return _serializer(purpose, timed=purpose == "confirm").dumps([subscription.id, subscription.nonce])


def _signed(value, purpose):
    """Return the (id, nonce) a token of ``purpose`` carries, or None if it is forged or stale."""
    try:
        if purpose == "confirm":
            max_age = current_app.config["ALERT_CONFIRM_DAYS"] * 86400
            return _serializer(purpose, timed=True).loads(value, max_age=max_age)
        return _serializer(purpose).loads(value)
    except (BadSignature, ValueError, TypeError):
        return None


def was_issued(value, purpose):
    """Return True if the board signed this token, whether or not its subscription still is."""
    return _signed(value, purpose) is not None


def from_token(value, purpose):
    """Return the subscription a token names, or None if it is forged, stale or gone."""
    try:
        ident, nonce = _signed(value, purpose)
    except (ValueError, TypeError):
        return None
    subscription = db.session.get(AlertSubscription, ident) if isinstance(ident, int) else None
    if subscription is None or not hmac.compare_digest(subscription.nonce, str(nonce)):
        return None
    return subscription


def links(subscription):
    """Return (manage URL, one-click unsubscribe URL) of a subscription, absolute."""
    signed = token(subscription, "manage")
    return (
        public_url("alerts.manage", token=signed),
        public_url("alerts.unsubscribe", token=signed),
    )


# The keyed hash a watch keeps of a document number: the one loss items keep of theirs.
number_hash = documents.number_hash


def masked(number):
    """Return a watched number as mail shows it: an ID number or credit code as public
    pages mask them, any other number with only its first two and last two characters."""
    if documents.is_id_number(number):
        return documents.mask_number("id_card", number)
    if len(number) == 18 and not number.isdigit():
        return documents.mask_number("business_license", number)
    if len(number) <= 4:
        return "*" * len(number)
    return number[:2] + "*" * (len(number) - 4) + number[-2:]


# --- what a subscription is about -------------------------------------------------------


def describe(subscription):
    """Return what a subscription follows, in words: 搜索“工资”(类型:…,发布者:…)."""
    if subscription.what == "number":
        return f"证件号码 {subscription.number_masked} 的遗失声明"
    kind = kinds.get(subscription.notice_kind) if subscription.notice_kind else None
    if subscription.what == "type":
        return f"新发布的{kind.name}"
    parts = []
    if kind:
        parts.append(f"类型:{kind.short_name}")
    if subscription.issuer:
        parts.append(f"发布者:{subscription.issuer}")
    where = f"({','.join(parts)})" if parts else ""
    if subscription.q:
        return f"搜索“{subscription.q}”{where}的新结果"
    return f"新发布的公告{where}"


def applies(subscription, notice, shown):
    """Return True if the newly published ``notice`` is what ``subscription`` follows."""
    if subscription.what == "number":
        return notice.kind == LOSS_KIND and any(
            hmac.compare_digest(item.number_hash, subscription.number_hash)
            for item in notice.items
        )
    if subscription.notice_kind and subscription.notice_kind != notice.kind:
        return False
    if subscription.issuer and subscription.issuer != notice.kind_def.issuer(notice.fields):
        return False
    numbers = {item.number_hash for item in notice.items}
    return matches(subscription.q, shown.title + "\n" + shown.text.plain(), numbers)


# --- services ----------------------------------------------------------------------------


def subscribe(email, *, now, q=None, notice_kind=None, issuer=None, number=None, frequency="immediate"):
    """Store an unconfirmed subscription and queue its confirmation mail; return it.

    ``number`` makes it a watch of that document number; ``q`` (or ``issuer``) a saved
    search; ``notice_kind`` alone a type's notices. The caller has validated the address.
    """
    if frequency not in FREQUENCIES:
        raise AlertError("请选择提醒方式")
    q = wording.visible((q or "").strip())[:200] or None
    issuer = wording.visible((issuer or "").strip())[:100] or None
    if notice_kind and kinds.get(notice_kind) is None:
        raise AlertError("没有这种公告类型")
    if q and numbers_in(q):
        # A number is kept only as a watch's keyed hash, never as the words of a search.
        raise AlertError("关注证件号码请用号码提醒(证件挂失查询页)")
    subscription = AlertSubscription(
        email=email.strip(), email_hash=recipient_hash(email), frequency=frequency,
        nonce=secrets.token_hex(8), created_at=now,
    )
    if number is not None:
        normalized = documents.normalize_number(number)[:40]
        if not normalized:
            raise AlertError("请填写证件号码")
        subscription.what = "number"
        subscription.frequency = "immediate"
        subscription.number_hash = number_hash(normalized)
        subscription.number_masked = masked(normalized)
    elif q or issuer:
        subscription.what = "search"
        subscription.q, subscription.issuer, subscription.notice_kind = q, issuer, notice_kind or None
    elif notice_kind:
        subscription.what = "type"
        subscription.notice_kind = notice_kind
    else:
        raise AlertError("请填写搜索关键词或选择公告类型")
    db.session.add(subscription)
    db.session.flush()
    _confirmation(subscription, now)
    db.session.commit()
    current_app.logger.info("alert %s (%s) asked for", subscription.id, subscription.what)
    return subscription


def confirm(subscription, *, now):
    """Activate a subscription whose confirmation link was followed (again: no change)."""
    if subscription.confirmed_at is None:
        subscription.confirmed_at = now
        db.session.commit()
        current_app.logger.info("alert %s confirmed", subscription.id)
    return subscription


def set_frequency(subscription, frequency, *, now):
    """Switch a confirmed subscription between immediate mail and the daily digest."""
    if frequency not in FREQUENCIES:
        raise AlertError("请选择提醒方式")
    if subscription.what == "number":
        raise AlertError("证件号码提醒在声明发布时立即发送")
    if subscription.frequency != frequency:
        if frequency == "immediate":
            # What waited for a digest goes out now, each as the alert it would have been.
            today = expiry.board_today(now)
            for match in list(subscription.matches):
                _alert(subscription, match.notice, board.show(match.notice, today), now)
                db.session.delete(match)
        subscription.frequency = frequency
        db.session.commit()
        current_app.logger.info("alert %s now %s", subscription.id, frequency)


def unsubscribe(subscription):
    """Delete a subscription, its waiting matches and so its address."""
    ident = subscription.id
    db.session.delete(subscription)
    db.session.commit()
    current_app.logger.info("alert %s unsubscribed", ident)


def published(notice, now):
    """Queue what the newly published ``notice`` means to confirmed subscribers, in the
    approval's transaction: a mail to each immediate one, a digest entry for each daily one."""
    today = expiry.board_today(now)
    shown = board.show(notice, today)
    confirmed = db.session.scalars(
        select(AlertSubscription).where(AlertSubscription.confirmed_at.is_not(None))
        .order_by(AlertSubscription.id)
    )
    for subscription in confirmed:
        if not applies(subscription, notice, shown):
            continue
        if subscription.frequency == "daily":
            db.session.add(AlertMatch(
                subscription_id=subscription.id, notice_id=notice.id, day=today, created_at=now,
            ))
        else:
            _alert(subscription, notice, shown, now)


def purge_unconfirmed(now):
    """Delete subscriptions left unconfirmed past ``ALERT_CONFIRM_DAYS``; return how many."""
    cutoff = now - timedelta(days=current_app.config["ALERT_CONFIRM_DAYS"])
    result = db.session.execute(
        delete(AlertSubscription).where(
            AlertSubscription.confirmed_at.is_(None), AlertSubscription.created_at < cutoff
        )
    )
    db.session.commit()
    return result.rowcount


def send_digests(now):
    """Queue the digest of every board day before today that has matches; return how many."""
    today = expiry.board_today(now)
    waiting = db.session.scalars(
        select(AlertSubscription).where(
            AlertSubscription.id.in_(select(AlertMatch.subscription_id).where(AlertMatch.day < today))
        ).order_by(AlertSubscription.id)
    ).all()
    count = sum(_digest(subscription, now, upto=today) for subscription in waiting)
    db.session.commit()
    return count


def housekeeping(now):
    """What ``flask send-mail`` does before each pass: expire, then write due digests."""
    return purge_unconfirmed(now), send_digests(now)


# --- mail --------------------------------------------------------------------------------


def _footer(subscription, unsubscribe_url=None, manage_url=None):
    lines = ["", "-- ", f"{BOARD_NAME} {current_app.config['PUBLIC_URL']}"]
    if manage_url:
        lines += [
            "管理这项提醒(改为每日汇总或立即发送):",
            manage_url,
            "退订(不再收到这项提醒):",
            unsubscribe_url,
        ]
    lines.append("本邮件由系统自动发送,请勿直接回复。您的邮箱地址只用于发送提醒,不会公开。")
    return lines


def _headers(unsubscribe_url):
    # RFC 8058: a mail program may unsubscribe with one POST, without opening a page.
    return {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def _confirmation(subscription, now):
    link = public_url("alerts.confirm", token=token(subscription, "confirm"))
    days = current_app.config["ALERT_CONFIRM_DAYS"]
    how = "" if subscription.what == "number" else f"提醒方式:{FREQUENCIES[subscription.frequency]}。"
    body = [
        "您好!",
        "",
        f"有人(希望是您)在{BOARD_NAME}用这个邮箱订阅了邮件提醒:{describe(subscription)}。{how}",
        "",
        "确认订阅,请打开下面的链接:",
        link,
        "",
        f"链接 {days} 天内有效。没有确认的订阅会自动删除,我们也不会再给您发邮件。"
        "如果不是您本人订阅的,请忽略本邮件。",
    ]
    queue(
        "alert-confirm", subscription.email, f"【{BOARD_NAME}】请确认邮件提醒",
        "\n".join(body + _footer(subscription)) + "\n", now=now,
    )


def _entry(notice, shown):
    return [
        f"{shown.title}",
        f"{notice.kind_def.name} · 发布于 {board_time(notice.published_at)} · 编号 {notice.ref}",
        public_url("public.notice", ref=notice.ref),
    ]


def _alert(subscription, notice, shown, now):
    manage_url, unsubscribe_url = links(subscription)
    if subscription.what == "number":
        subject = f"证件号码 {subscription.number_masked} 有遗失声明发布"
        intro = (
            f"您关注的证件号码 {subscription.number_masked} 出现在一则刚发布的遗失声明中,"
            "这份证件已被声明作废:"
        )
    else:
        subject = f"新公告:{shown.title}"
        intro = f"有一则新公告符合您订阅的{describe(subscription)}:"
    body = [
        "您好!", "", intro, "", *_entry(notice, shown), "",
        "公告全文(身份证号码部分隐去):", "", shown.text.plain(),
    ]
    queue(
        "alert", subscription.email, f"【{BOARD_NAME}】{subject}",
        "\n".join(body + _footer(subscription, unsubscribe_url, manage_url)) + "\n",
        now=now, dedupe_key=f"alert:{subscription.id}:{subscription.nonce}:{notice.ref}",
        headers=_headers(unsubscribe_url),
    )


def _digest(subscription, now, upto):
    """Queue one digest per board day before ``upto`` of ``subscription``'s waiting matches,
    and delete those matches; return how many digests."""
    query = select(AlertMatch).where(
        AlertMatch.subscription_id == subscription.id, AlertMatch.day < upto
    )
    waiting = db.session.scalars(query.order_by(AlertMatch.day, AlertMatch.id)).all()
    days = {}
    for match in waiting:
        days.setdefault(match.day, []).append(match)
    manage_url, unsubscribe_url = links(subscription)
    for day, entries in days.items():
        today = expiry.board_today(now)
        body = [
            "您好!", "",
            f"{wording.cn_date(day)}(北京时间)有 {len(entries)} 则新公告符合您订阅的"
            f"{describe(subscription)}:",
        ]
        for match in entries:
            notice = db.session.get(Notice, match.notice_id)
            body += [""] + _entry(notice, board.show(notice, today))
            if notice.status == "revoked":
                body.append("(这则公告后来已被撤销,页面上有撤销理由。)")
        queue(
            "alert-digest", subscription.email,
            f"【{BOARD_NAME}】每日汇总:{wording.cn_date(day)} {len(entries)} 则新公告",
            "\n".join(body + _footer(subscription, unsubscribe_url, manage_url)) + "\n",
            now=now, dedupe_key=f"digest:{subscription.id}:{subscription.nonce}:{day.isoformat()}",
            headers=_headers(unsubscribe_url),
        )
        for match in entries:
            db.session.delete(match)
    return len(days)
