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
from markupsafe import Markup
from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy.orm import selectinload
from wtforms import PasswordField
from wtforms import SelectField
from wtforms import StringField
from wtforms.validators import InputRequired

from notices import accounts
from notices import board
from notices import corrections
from notices import expiry
from notices import kinds
from notices import review
from notices import services
from notices.extensions import db
from notices.extensions import limiter
from notices.extensions import login_manager
from notices.forms import TextField
from notices.forms import choices
from notices.forms import problems
from notices.forms import strip
from notices.models import Notice
from notices.models import User
from notices.services import NoticeError

bp = Blueprint("editor", __name__, url_prefix="/editor")


class LoginForm(FlaskForm):
    class Meta:
        locales = ["zh"]

    username = StringField("用户名", [InputRequired("请填写用户名")])
    password = PasswordField("密码", [InputRequired("请填写密码")])


# How each account role is named on the accounts page.
ROLE_NAMES = {"editor": "编辑", "admin": "管理员", "authority": "受理部门"}


class UserForm(FlaskForm):
    class Meta:
        locales = ["zh"]

    username = StringField("用户名", [InputRequired("请填写用户名")])
    role = SelectField("角色", choices=choices(ROLE_NAMES))
    authority = TextField(
        "受理部门(仅受理部门账户)", max_length=accounts.MAX_AUTHORITY, filters=[strip],
        description="与工资结清公示中“受理异议的部门”的写法完全一致,如 当地劳动局",
    )
    password = PasswordField("初始密码", [InputRequired("请填写初始密码")])


# The only editor page open to anyone; every other one needs a logged-in editor.
OPEN_ENDPOINTS = {"editor.login"}
# What an authority account may use here: it handles objections (notices/objections) alone.
AUTHORITY_ENDPOINTS = {"editor.login", "editor.logout"}


@bp.before_request
def editors_only():
    """Deny by default: a page added to this blueprint is closed until an editor logs in."""
    if request.endpoint not in OPEN_ENDPOINTS and not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.is_authenticated and current_user.is_authority:
        if request.endpoint not in AUTHORITY_ENDPOINTS:
            abort(403)


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
@limiter.limit(_login_limit, methods=["POST"], error_message="登录尝试次数过多。")
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
            if user.is_authority:
                return redirect(url_for("objections.index"))
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append("用户名或密码不正确")
    return render_template("editor/login.html", form=form, problems=problems(form))


@bp.post("/logout")
def logout():
    """Log the editor out, ending the session on the server as well as in the browser."""
    accounts.end_session(current_user.session_id, now=expiry.utcnow())
    logout_user()
    flash("已退出登录。", "success")
    return redirect(url_for("public.index"))


# The queue's order, which "the next submission" after a decision follows too.
QUEUE_ORDER = (Notice.submitted_at, Notice.id)
# What the confirm step posts, with the form's own fields, to say the editor confirmed.
CONFIRMED = "1"


def _queue_type(value):
    """Return the type code a queue filter names, or None for the whole queue."""
    return value if value and kinds.get(value) is not None else None


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
    now = expiry.utcnow()
    today = expiry.board_today(now)
    kind = notice.kind_def
    return render_template(
        "editor/notice.html",
        notice=notice,
        kind=kind,
        fields=review.shown_fields(kind, kind.fields_of(notice, masked=False)),
        text=board.draft_text(notice, today, masked=False),
        warnings=review.warnings(notice, today),
        waited=review.waited(notice.submitted_at, now),
        queue_type=_queue_type(request.args.get("type")),
        changes=corrections.changes_of(notice) if notice.corrects_id is not None else None,
    )


def _next_after(notice, code):
    """Return the submission to review after ``notice``: the next one in the queue's order,
    else the first still waiting (an editor may have started in the middle), else None."""
    waiting = _waiting(code).where(Notice.id != notice.id).order_by(*QUEUE_ORDER).limit(1)
    later = waiting.where(
        or_(
            Notice.submitted_at > notice.submitted_at,
            and_(Notice.submitted_at == notice.submitted_at, Notice.id > notice.id),
        )
    )
    return db.session.scalar(later) or db.session.scalar(waiting)


def _named(notice):
    """Return a notice as a flash names it: its title and, kept on one line, its ref."""
    return Markup('「{}」(<span class="nowrap">{}</span>)').format(
        notice.kind_def.title(notice.fields), notice.ref
    )


def _count(query):
    return db.session.scalar(db.select(func.count()).select_from(query.subquery()))


def _decided(notice, done, code):
    """Say what was done to ``notice``, with a link back to it, and go on to the next
    submission in the queue (of type ``code``, if the editor is working through one)."""
    following = _next_after(notice, code)
    message = Markup('{} <a href="{}">返回查看</a> · ').format(
        done, url_for("editor.notice", ref=notice.ref, type=code)
    )
    part = f"“{kinds.get(code).short_name}”" if code else "队列"
    if following is not None:
        left = _count(_waiting(code))
        flash(message + f"下面是{part}中的下一份(还有 {left} 份待审核)。", "success")
        return redirect(url_for("editor.notice", ref=following.ref, type=code))
    left = _count(_waiting()) if code else 0
    if left:
        flash(message + f"{part}中已没有待审核的提交,全部队列还有 {left} 份。", "success")
    else:
        flash(message + "队列中已没有待审核的提交。", "success")
    return redirect(url_for("editor.queue", type=code))


def _refused(notice, refused, code):
    flash(refused.message, "error")
    return redirect(url_for("editor.notice", ref=notice.ref, type=code))


@bp.route("/notices/<ref>/approve", methods=["GET", "POST"])
def approve(ref):
    """Publish a submission now, once the editor has confirmed what that will do.

    A POST without ``confirm`` changes nothing and answers with the confirm page.
    """
    notice = _notice_or_404(ref)
    code = _queue_type(request.values.get("type"))
    now = expiry.utcnow()
    today = expiry.board_today(now)
    confirmed = request.method == "POST" and request.form.get("confirm") == CONFIRMED
    try:
        start, end = services.publication_window(notice, today)
        if confirmed:
            services.approve(notice, current_user, now=now)
    except NoticeError as refused:
        return _refused(notice, refused, code)
    if confirmed:
        return _decided(notice, Markup("已发布{}。").format(_named(notice)), code)
    return render_template(
        "editor/approve.html", notice=notice, kind=notice.kind_def, start=start, end=end,
        today=today, queue_type=code,
        waited=review.waited(notice.submitted_at, now), warnings=review.warnings(notice, today),
        text=board.draft_text(notice, today, masked=False),
    )


@bp.post("/notices/<ref>/reject")
def reject(ref):
    """Refuse a submission, telling the submitter why, and go on to the next one."""
    notice = _notice_or_404(ref)
    code = _queue_type(request.form.get("type"))
    try:
        services.reject(notice, current_user, request.form.get("reason", ""), now=expiry.utcnow())
    except NoticeError as refused:
        return _refused(notice, refused, code)
    return _decided(notice, Markup("已退回{},理由会显示给提交人。").format(_named(notice)), code)


@bp.route("/notices/<ref>/revoke", methods=["GET", "POST"])
def revoke(ref):
    """Revoke a published notice, with a reason shown to the public, once confirmed.

    A POST without ``confirm`` changes nothing and answers with the confirm page, where the
    reason can still be changed; a missing or too long reason is shown there too.
    """
    notice = _notice_or_404(ref)
    if (refused := services.refusal(notice, ("published",), "revoke")) is not None:
        return _refused(notice, refused, None)
    if (later := notice.correction) is not None:
        flash(f"本公告已由 {later.ref} 更正,请撤销更正后的公告 {later.ref}", "error")
        return redirect(url_for("editor.notice", ref=ref))
    reason, error = request.form.get("reason", ""), None
    if request.method == "POST":
        try:
            reason = services.clean_reason(reason)
            if request.form.get("confirm") == CONFIRMED:
                services.revoke(notice, current_user, reason, now=expiry.utcnow())
                flash(Markup("已撤销{},理由已公开显示。").format(_named(notice)), "success")
                return redirect(url_for("editor.notice", ref=ref))
        except NoticeError as refused:
            if "reason" not in refused.errors:
                return _refused(notice, refused, None)
            error = refused.message
    page = render_template("editor/revoke.html", notice=notice, kind=notice.kind_def,
                           reason=reason, error=error)
    return page, 422 if error else 200


@bp.route("/users", methods=["GET", "POST"])
@admin_required
def users():
    """List editor accounts and create new ones."""
    form = UserForm()
    if form.validate_on_submit():
        try:
            accounts.create_user(form.username.data, form.password.data, role=form.role.data,
                                 authority=form.authority.data or None)
        except accounts.AccountError as error:
            form.username.errors.append(str(error))
        else:
            flash(f"已创建账户 {form.username.data}。", "success")
            return redirect(url_for("editor.users"))
    listed = db.session.scalars(db.select(User).order_by(User.username)).all()
    return render_template("editor/users.html", form=form, users=listed, role_names=ROLE_NAMES)


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


def _correct_form(original, form, end, errors=None, status=200):
    errors = errors or {}
    kind = original.kind_def
    return render_template(
        "editor/correct.html", notice=original, kind=kind, form=form, end=end,
        end_errors=errors.get(corrections.END_FIELD, []),
        problems=corrections.problems(kind, form, errors),
    ), status


@bp.route("/notices/<ref>/correct", methods=["GET", "POST"])
def correct(ref):
    """Correct a published notice: its fields to edit, a preview of what changes, then, once
    confirmed, the correction (更正启事) published as a notice of its own."""
    original = _notice_or_404(ref)
    if (refused := corrections.refusal(original)) is not None:
        return _refused(original, refused, None)
    if request.method == "GET":
        return _correct_form(original, *corrections.blank_form(original))
    data = corrections.posted(request.form)
    if request.form.get("action") == "edit":
        form = original.kind_def.form(formdata=data, meta={"csrf": False})
        return _correct_form(original, form, data.get(corrections.END_FIELD))
    now = expiry.utcnow()
    today = expiry.board_today(now)
    try:
        draft = corrections.draft(original, data, today)
        if request.form.get("confirm") == CONFIRMED:
            correction = corrections.publish(original, draft, current_user, now=now)
            flash(Markup("已发布更正{},原公告已注明更正。").format(_named(correction)), "success")
            return redirect(url_for("editor.notice", ref=correction.ref))
    except NoticeError as refused:
        if refused.form is None:
            return _refused(original, refused, None)
        return _correct_form(original, refused.form, data.get(corrections.END_FIELD), refused.errors, 422)
    notice_text, full_text = corrections.preview(original, draft, today)
    return render_template(
        "editor/correct_preview.html", notice=original, kind=original.kind_def, draft=draft,
        notice_text=notice_text, full_text=full_text, hidden=data.items(multi=True),
    )
