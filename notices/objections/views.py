"""The pages of objections: the form on a wage notice, the objector's private tracking page,
and the list, detail and handling pages of authorities and editors under /editor/objections.

Staff pages admit editors, admins and authority accounts; an authority sees and handles only
the objections addressed to it (by the name the notice gives), anything else is not found.
"""
import re
from decimal import Decimal
from functools import wraps

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import selectinload
from wtforms import RadioField
from wtforms.validators import InputRequired
from wtforms.validators import ValidationError

from notices import board
from notices import expiry
from notices import forms
from notices.extensions import db
from notices.extensions import limiter
from notices.extensions import login_manager
from notices.models import Objection
from notices.objections import records
from notices.objections.records import ACTIONS
from notices.objections.records import STATUS_NAMES
from notices.objections.records import ObjectionError
from notices.urls import private_address

bp = Blueprint("objections", __name__)

# The tracking page holds the objector's key in its address: kept out of caches and search
# engines, as a submission's.
PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
LIMIT_MESSAGE = "提交异议过于频繁。为防止滥用,每个网络地址可提交的异议数量有限。"
# ASCII digits only (\d would take any script's), at most 9 before the point and 2 after.
AMOUNT = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,2})?")


@bp.record_once
def _defaults(state):
    # Objections one client address may send, on top of the request size and field bounds.
    state.app.config.setdefault("OBJECTION_RATE_LIMIT", "10 per hour;30 per day")


def amount_fen(text):
    """Return an amount as a person types it (12500, 12,500.5, 12500元) in fen, or None."""
    text = re.sub(r"[\s,,]", "", text or "").removesuffix("元")
    if not AMOUNT.fullmatch(text):
        return None
    return int(Decimal(text) * 100)


def _amount(form, field):
    fen = amount_fen(field.data)
    if fen is None or fen == 0:
        raise ValidationError("请填写拖欠的金额(元),如 12500 或 12500.50,不超过1亿元")
    field.fen = fen


class ObjectionForm(FlaskForm):
    """What a worker who was not paid tells the authority."""

    class Meta:
        locales = ["zh"]

    name = forms.TextField("姓名", [forms.Required("姓名")], max_length=50, filters=[forms.strip])
    phone = forms.PhoneField(
        "联系电话", [forms.Required("联系电话"), forms.phone], max_length=30,
        filters=[forms.normalize_phone],
        description="只给受理部门和本站编辑看,不会公开",
    )
    amount = forms.TextField(
        "拖欠金额(元)", [forms.Required("拖欠金额"), _amount], max_length=20,
        filters=[forms.strip], description="如 12500",
    )
    period = forms.TextField(
        "拖欠期间", [forms.Required("拖欠期间")], max_length=100, filters=[forms.strip],
        description="哪段时间的工资没有发,如 2026年3月至8月",
    )
    work = forms.TextField(
        "所做工作", [forms.Required("所做工作")], max_length=200, filters=[forms.strip],
        description="在这个项目上做了什么,如 钢筋工,3号楼主体",
    )
    details = forms.ParagraphField(
        "其他情况(选填)", max_length=1000, filters=[forms.strip],
        description="如 班组长姓名、工友人数、已有的欠条",
    )


class ActionField(RadioField):
    """The step being recorded; anything but one of ACTIONS is refused in words."""

    def pre_validate(self, form):
        if self.data not in ACTIONS:
            raise ValidationError("请选择处理结果:" + "、".join(ACTIONS.values()))


class HandleForm(FlaskForm):
    """One step of handling an objection, with its note."""

    class Meta:
        locales = ["zh"]

    action = ActionField("处理结果", [InputRequired("请选择处理结果")], choices=forms.choices(ACTIONS))
    note = forms.ParagraphField(
        "处理说明", [forms.Required("处理说明")], max_length=records.MAX_NOTE,
        filters=[forms.strip], description="会显示给提出异议的人",
    )


def _wage_notice_or_404(ref):
    notice = records.notice_of(ref)
    if notice is None or notice.kind != records.WAGE_KIND or not notice.is_public:
        abort(404)
    return notice


def _limit():
    return current_app.config["OBJECTION_RATE_LIMIT"]


@bp.route("/notices/<ref>/objection", methods=["GET", "POST"])
@limiter.limit(_limit, methods=["POST"], error_message=LIMIT_MESSAGE)
def new(ref):
    """Take a worker's objection to a wage notice while its 异议期 is open."""
    notice = _wage_notice_or_404(ref)
    now = expiry.utcnow()
    shown = board.show(notice, expiry.board_today(now))
    form = ObjectionForm()
    if not records.is_open(notice, expiry.board_today(now)):
        status = 409 if request.method == "POST" else 200
        return render_template("objections/new.html", shown=shown, form=None), status
    if form.validate_on_submit():
        try:
            objection, token = records.submit(
                notice, name=form.name.data, phone=form.phone.data, amount_fen=form.amount.fen,
                period=form.period.data, work=form.work.data, details=form.details.data,
                now=now,
            )
        except ObjectionError as refused:
            if refused.field == "notice":
                return render_template("objections/new.html", shown=shown, form=None), 409
            getattr(form, refused.field).errors.append(refused.message)
        else:
            flash(f"异议已提交,编号 {objection.ref}。请保存下面的查询地址:这是查看处理进度的唯一途径。", "success")
            return redirect(url_for("objections.track", token=token))
    status = 422 if request.method == "POST" else 200
    return render_template("objections/new.html", shown=shown, form=form,
                           problems=forms.problems(form)), status


@bp.get("/objections/<token>")
def track(token):
    """Show the objector how their objection is being handled, and the address to come back."""
    objection = records.find_by_token(token)
    if objection is None:
        abort(404)
    address, qr = private_address("objections.track", token)
    page = render_template(
        "objections/track.html", objection=objection, notice=objection.notice,
        title=objection.notice.kind_def.title(board.public_fields(objection.notice)),
        address=address, qr=qr, STATUS_NAMES=STATUS_NAMES, ACTIONS=ACTIONS,
        amount=records.amount_text(objection.amount_fen),
    )
    return page, 200, PRIVATE


def staff_required(view):
    """Admit editors, admins and authority accounts; send anyone else to log in."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)

    return wrapped


def _visible_or_404(ref):
    objection = db.session.scalar(records.visible_to(current_user).where(Objection.ref == ref))
    if objection is None:
        abort(404)
    return objection


@bp.get("/editor/objections")
@staff_required
def index():
    """List the objections the account may see, newest first."""
    query = (
        records.visible_to(current_user)
        .options(selectinload(Objection.notice))
        .order_by(Objection.created_at.desc(), Objection.id.desc())
    )
    pagination = board.paginate(query, board.page_number(request.args.get("page")), per_page=50)
    return render_template("objections/index.html", pagination=pagination,
                           STATUS_NAMES=STATUS_NAMES, amount_text=records.amount_text)


def _detail(objection, form, status=200):
    notice = objection.notice
    page = render_template(
        "objections/detail.html", objection=objection, notice=notice, form=form,
        title=notice.kind_def.title(notice.fields), STATUS_NAMES=STATUS_NAMES, ACTIONS=ACTIONS,
        amount=records.amount_text(objection.amount_fen), problems=forms.problems(form),
        closed=objection.status == "resolved",
    )
    return page, status


@bp.get("/editor/objections/<ref>")
@staff_required
def detail(ref):
    """Show one objection with the objector's contact, its history and the handling form."""
    return _detail(_visible_or_404(ref), HandleForm(formdata=None))


@bp.post("/editor/objections/<ref>")
@staff_required
def handle(ref):
    """Record a step of handling the objection (受理, 已转交, 已解决) with its note."""
    objection = _visible_or_404(ref)
    form = HandleForm()
    if form.validate_on_submit():
        try:
            records.record(objection, current_user, form.action.data, form.note.data,
                           now=expiry.utcnow())
        except ObjectionError as refused:
            # Someone recorded a step meanwhile: the page as it now stands says what is left.
            flash(refused.message, "error")
        else:
            flash(f"已记录:{ACTIONS[form.action.data]}。提出异议的人会在查询页面看到。", "success")
        return redirect(url_for("objections.detail", ref=ref))
    return _detail(objection, form, 422)
