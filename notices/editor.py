"""Pages for editors: login, the review queue, review and decisions, and editor accounts."""
import unicodedata
from functools import wraps
from urllib.parse import unquote

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_login import current_user
from flask_login import login_user
from flask_login import logout_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import selectinload
from wtforms import PasswordField
from wtforms import SelectField
from wtforms import StringField
from wtforms.validators import InputRequired

from notices import accounts
from notices import board
from notices import expiry
from notices import kinds
from notices import review
from notices import services
from notices.extensions import db
from notices.extensions import limiter
from notices.extensions import login_manager
from notices.forms import choices
from notices.models import Notice
from notices.models import User
from notices.services import NoticeError

bp = Blueprint("editor", __name__, url_prefix="/editor")


class LoginForm(FlaskForm):
    class Meta:
        locales = ["zh"]

    username = StringField("用户名", [InputRequired("请填写用户名")])
    password = PasswordField("密码", [InputRequired("请填写密码")])


class UserForm(FlaskForm):
    class Meta:
        locales = ["zh"]

    username = StringField("用户名", [InputRequired("请填写用户名")])
    role = SelectField("角色", choices=choices({"editor": "编辑", "admin": "管理员"}))
    password = PasswordField("初始密码", [InputRequired("请填写初始密码")])


# The only editor page open to anyone; every other one needs a logged-in editor.
OPEN_ENDPOINTS = {"editor.login"}


@bp.before_request
def editors_only():
    """Deny by default: a page added to this blueprint is closed until someone logs in."""
    if request.endpoint not in OPEN_ENDPOINTS and not current_user.is_authenticated:
        return login_manager.unauthorized()


def admin_required(view):
    """Refuse anyone who is not a logged-in admin."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not (current_user.is_authenticated and current_user.is_admin):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


def _is_local_path(value):
    """Tell whether a browser can only read ``value`` as a path on this site.

    Browsers take ``//host`` and ``/\\host`` for another site, drop tabs and newlines before
    they look, and some redirects are decoded again on the way: so one "/" followed by
    neither "/" nor "\\", and no backslash or control character anywhere.
    """
    return (
        value.startswith("/")
        and value[1:2] not in ("/", "\\")
        and "\\" not in value
        and not any(unicodedata.category(c) == "Cc" for c in value)
    )


def _safe_next(target):
    """Return ``target`` if it is a path on this site, else the queue."""
    value = target or ""
    # Every percent-decoding of the value must pass too; one still encoded after a few
    # rounds is no link anyone made honestly.
    for _ in range(4):
        if not _is_local_path(value):
            break
        decoded = unquote(value)
        if decoded == value:
            return target
        value = decoded
    return url_for("editor.queue")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], error_message="登录尝试次数过多,请稍后再试。")
def login():
    """Log an editor in."""
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.username.data, form.password.data)
        if user is not None:
            # A new session for the new identity: whatever the old one held, including a CSRF
            # secret someone else may have planted and fetched tokens for, is dropped.
            session.clear()
            login_user(accounts.start_session(user, now=expiry.utcnow()))
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append("用户名或密码不正确")
    return render_template("editor/login.html", form=form)


@bp.post("/logout")
def logout():
    """Log the editor out, ending the session on the server as well as in the browser."""
    accounts.end_session(current_user.session_id, now=expiry.utcnow())
    logout_user()
    flash("已退出登录。", "success")
    return redirect(url_for("public.index"))


# The queue's order.
QUEUE_ORDER = (Notice.submitted_at, Notice.id)


def _waiting(code=None):
    query = db.select(Notice).where(Notice.status == "submitted")
    return query.where(Notice.kind == code) if code else query


@bp.get("/")
def queue():
    """List submissions waiting for review, oldest first, with how long each has waited and
    what to check in it."""
    code = request.args.get("type") or None
    if code is not None and kinds.get(code) is None:
        abort(404)
    counts = board.kind_counts(_waiting())
    query = _waiting(code).order_by(*QUEUE_ORDER).options(selectinload(Notice.items))
    pagination = board.paginate(query, board.page_number(request.args.get("page")), per_page=50)
    return render_template(
        "editor/queue.html", pagination=pagination, counts=counts, current=code,
        rows=review.waiting(pagination.items, expiry.utcnow()),
    )


def _notice_or_404(ref):
    notice = db.session.scalar(db.select(Notice).where(Notice.ref == ref))
    if notice is None:
        abort(404)
    return notice


@bp.get("/notices/<ref>")
def notice(ref):
    """Show everything about one submission: fields, contacts, wording, warnings, history."""
    notice = _notice_or_404(ref)
    today = expiry.board_today(expiry.utcnow())
    kind = notice.kind_def
    return render_template(
        "editor/notice.html",
        notice=notice,
        kind=kind,
        fields=review.shown_fields(kind, kind.fields_of(notice, masked=False)),
        text=board.draft_text(notice, today, masked=False),
        warnings=review.warnings(notice, today),
    )


def _decide(ref, act, done):
    notice = _notice_or_404(ref)
    try:
        act(notice)
    except NoticeError as refused:
        flash(refused.message, "error")
        return redirect(url_for("editor.notice", ref=ref))
    flash(done.format(ref=ref), "success")
    return redirect(url_for("editor.notice", ref=ref))


@bp.post("/notices/<ref>/approve")
def approve(ref):
    """Publish a submission now."""
    return _decide(
        ref, lambda n: services.approve(n, current_user, now=expiry.utcnow()), "{ref} 已发布。"
    )


@bp.post("/notices/<ref>/reject")
def reject(ref):
    """Refuse a submission, telling the submitter why."""
    reason = request.form.get("reason", "")
    return _decide(
        ref,
        lambda n: services.reject(n, current_user, reason, now=expiry.utcnow()),
        "{ref} 已退回,理由会显示给提交人。",
    )


@bp.post("/notices/<ref>/revoke")
def revoke(ref):
    """Revoke a published notice, with a reason shown to the public."""
    reason = request.form.get("reason", "")
    return _decide(
        ref,
        lambda n: services.revoke(n, current_user, reason, now=expiry.utcnow()),
        "{ref} 已撤销,理由已公开显示。",
    )


@bp.route("/users", methods=["GET", "POST"])
@admin_required
def users():
    """List editor accounts and create new ones."""
    form = UserForm()
    if form.validate_on_submit():
        try:
            accounts.create_user(form.username.data, form.password.data, role=form.role.data)
        except accounts.AccountError as error:
            form.username.errors.append(str(error))
        else:
            flash(f"已创建账户 {form.username.data}。", "success")
            return redirect(url_for("editor.users"))
    listed = db.session.scalars(db.select(User).order_by(User.username)).all()
    return render_template("editor/users.html", form=form, users=listed)


@bp.post("/users/<int:user_id>/active")
@admin_required
def set_active(user_id):
    """Disable or re-enable an account (never one's own)."""
    user = db.get_or_404(User, user_id)
    if user.id == current_user.id:
        flash("不能停用自己的账户。", "error")
    else:
        user.active = request.form.get("active") == "1"
        if not user.active:
            accounts.end_sessions_of(user, now=expiry.utcnow())
        db.session.commit()
        flash(f"账户 {user.username} 已{'启用' if user.active else '停用'}。", "success")
    return redirect(url_for("editor.users"))


@bp.post("/users/<int:user_id>/password")
@admin_required
def set_password(user_id):
    """Give an account a new password."""
    user = db.get_or_404(User, user_id)
    try:
        accounts.set_password(user.username, request.form.get("password", ""), role=user.role)
    except accounts.AccountError as error:
        flash(str(error), "error")
    else:
        flash(f"已为 {user.username} 设置新密码。", "success")
    return redirect(url_for("editor.users"))
