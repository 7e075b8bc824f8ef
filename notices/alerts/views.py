"""The pages of alerts: ask, confirm, manage and unsubscribe (all public, all by signed link).

No page ever shows an address: the mail is the only place it appears. Asking is limited per
client address (``ALERT_SUBSCRIBE_RATE_LIMIT``) and per e-mail address (a keyed hash of it,
``ALERT_CONFIRM_ADDRESS_LIMIT``, counted only when a confirmation mail was written), so
nobody can have the board send one address more than one confirmation a day.
"""
from flask import Blueprint
from flask import abort
from flask import current_app
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms import RadioField
from wtforms.validators import Email
from wtforms.validators import InputRequired

from notices import expiry
from notices import forms
from notices import kinds
from notices import search
from notices.alerts import subscriptions
from notices.alerts.subscriptions import FREQUENCIES
from notices.alerts.subscriptions import AlertError
from notices.extensions import csrf
from notices.extensions import limiter
from notices.mail.outbox import recipient_hash

bp = Blueprint("alerts", __name__, url_prefix="/alerts")

PER_ADDRESS_MESSAGE = "这个邮箱今天已经收到过一封确认邮件。为防止有人用本站给别人发邮件,每个邮箱每天只发一封。"
PER_CLIENT_MESSAGE = "订阅请求过于频繁。为防止滥用,每个网络地址可订阅的次数有限。"


def init_app(app):
    # Authenticated by the signed token in its address, and sent by mail programs that hold
    # no session: RFC 8058's one-click POST carries no CSRF token.
    csrf.exempt(unsubscribe_now)


class AlertForm(FlaskForm):
    """An address and how often to write to it; the search it follows rides along hidden."""

    class Meta:
        locales = ["zh"]

    email = forms.EmailAddressField(
        "邮箱",
        [forms.Required("邮箱"), Email("邮箱格式不正确,如 name@example.com")],
        max_length=200, filters=[forms.strip],
        description="只用于发送提醒,不会公开",
    )
    frequency = RadioField(
        "提醒方式", [InputRequired("请选择提醒方式")],
        choices=forms.choices(FREQUENCIES), default="immediate",
    )
    q = HiddenField()
    type = HiddenField()
    issuer = HiddenField()


class WatchForm(FlaskForm):
    """A document number to watch, and the address to tell."""

    class Meta:
        locales = ["zh"]

    number = forms.TextField("证件号码", [forms.Required("证件号码")], max_length=60,
                             description="本站只保存号码的校验值,不保存号码本身")
    email = AlertForm.email


def _address_key():
    return "alert-address-" + recipient_hash(request.form.get("email", "")[:200])


def _confirmation_sent(response):
    return g.get("alert_confirmation_sent", False)


def _limited(view):
    view = limiter.limit(
        lambda: current_app.config["ALERT_CONFIRM_ADDRESS_LIMIT"], key_func=_address_key,
        deduct_when=_confirmation_sent, methods=["POST"], error_message=PER_ADDRESS_MESSAGE,
    )(view)
    return limiter.limit(
        lambda: current_app.config["ALERT_SUBSCRIBE_RATE_LIMIT"], methods=["POST"],
        error_message=PER_CLIENT_MESSAGE,
    )(view)


def _subscription(token, purpose):
    found = subscriptions.from_token(token, purpose)
    if found is None:
        abort(404, description="这个链接无效或已失效:订阅可能已退订,或未在期限内确认。")
    return found


def _following(form):
    """Return (what the form follows, in words) or None if it follows nothing."""
    code = form.type.data or None
    if code and kinds.get(code) is None:
        abort(404)
    probe = subscriptions.AlertSubscription(
        what="search" if (form.q.data or form.issuer.data) else "type",
        q=form.q.data or None, notice_kind=code, issuer=form.issuer.data or None,
    )
    if not (probe.q or probe.issuer or probe.notice_kind):
        return None
    return subscriptions.describe(probe)


@bp.route("/new", methods=["GET", "POST"])
@_limited
def new():
    """Subscribe an address to a search or a type; the mail asks to confirm."""
    form = AlertForm(formdata=request.form if request.method == "POST" else request.args)
    if request.method == "GET":
        form.email.errors = form.frequency.errors = []
    if search.numbers_in(form.q.data or ""):
        # A search for a document number is followed as a watch: its hash alone is kept.
        # The number is not put in the address (pages never echo a full number).
        return redirect(url_for("alerts.watch"), 303)
    following = _following(form)
    if following is None:
        abort(404, description="请先搜索,或打开一种公告类型的页面,再订阅它的邮件提醒。")
    if request.method == "POST" and form.validate():
        try:
            subscriptions.subscribe(
                form.email.data, now=expiry.utcnow(), q=form.q.data, notice_kind=form.type.data or None,
                issuer=form.issuer.data, frequency=form.frequency.data,
            )
        except AlertError as refused:
            form.email.errors = [str(refused)]
        else:
            g.alert_confirmation_sent = True
            return render_template("alerts/sent.html", following=following)
    status = 422 if form.errors and request.method == "POST" else 200
    return render_template("alerts/new.html", form=form, following=following), status


@bp.route("/watch", methods=["GET", "POST"])
@_limited
def watch():
    """Watch a document number: a mail when a loss declaration with it is published."""
    form = WatchForm(formdata=request.form if request.method == "POST" else None)
    if request.method == "POST" and form.validate():
        try:
            subscription = subscriptions.subscribe(
                form.email.data, now=expiry.utcnow(), number=form.number.data,
            )
        except AlertError as refused:
            form.number.errors = [str(refused)]
        else:
            g.alert_confirmation_sent = True
            return render_template("alerts/sent.html", following=subscriptions.describe(subscription))
    status = 422 if form.errors and request.method == "POST" else 200
    return render_template("alerts/watch.html", form=form), status


@bp.get("/confirm/<token>")
def confirm_page(token):
    """Show what the link would confirm, with the button that does: a mail scanner
    following the link confirms nothing."""
    subscription = _subscription(token, "confirm")
    return render_template("alerts/confirm.html", subscription=subscription,
                           following=subscriptions.describe(subscription), frequencies=FREQUENCIES)


@bp.post("/confirm/<token>")
def confirm(token):
    """Activate the subscription, and go on to its manage page."""
    subscription = subscriptions.confirm(_subscription(token, "confirm"), now=expiry.utcnow())
    return redirect(url_for("alerts.manage", token=subscriptions.token(subscription, "manage"),
                            confirmed=1), 303)


@bp.get("/manage/<token>")
def manage(token):
    """Show a subscription: what it follows, how often it writes, and how to stop it."""
    subscription = _subscription(token, "manage")
    return render_template(
        "alerts/manage.html", subscription=subscription, frequencies=FREQUENCIES,
        following=subscriptions.describe(subscription),
        confirmed=request.args.get("confirmed") == "1", changed=request.args.get("changed") == "1",
    )


@bp.post("/manage/<token>")
def change(token):
    """Switch a subscription between immediate mail and the daily digest."""
    subscription = _subscription(token, "manage")
    if subscription.confirmed_at is None:
        abort(404)
    try:
        subscriptions.set_frequency(subscription, request.form.get("frequency", ""), now=expiry.utcnow())
    except AlertError as refused:
        abort(422, description=str(refused))
    return redirect(url_for("alerts.manage", token=token, changed=1), 303)


@bp.get("/unsubscribe/<token>")
def unsubscribe(token):
    """Ask whether to unsubscribe; only the button's POST does (scanners follow links)."""
    subscription = _subscription(token, "manage")
    return render_template("alerts/unsubscribe.html", subscription=subscription,
                           following=subscriptions.describe(subscription))


@bp.post("/unsubscribe/<token>")
def unsubscribe_now(token):
    """Unsubscribe: the page's button, or a mail program's one-click POST (RFC 8058).

    A mail program may send its POST again: a link the board signed whose subscription is
    already gone answers as the first time did, not with an error.
    """
    subscription = subscriptions.from_token(token, "manage")
    if subscription is None:
        if not subscriptions.was_issued(token, "manage"):
            abort(404, description="这个链接无效或已失效。")
        return render_template("alerts/unsubscribed.html", following=None)
    following = subscriptions.describe(subscription)
    subscriptions.unsubscribe(subscription)
    return render_template("alerts/unsubscribed.html", following=following)
