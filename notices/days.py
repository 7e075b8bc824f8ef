"""The board's issues: a page per day of what was published on it, as the newspaper's column
that day, its print PDF, and the editors' export of a range of days for print.

Days are the board's calendar days (Asia/Shanghai), as ``Notice.published_on`` keeps them.
"""
import re
from datetime import date
from datetime import timedelta

from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import g
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func

from notices import board
from notices import expiry
from notices import forms
from notices import pages
from notices import printing
from notices.extensions import db
from notices.extensions import limiter
from notices.extensions import login_manager
from notices.models import PUBLIC_STATUSES
from notices.models import Notice

bp = Blueprint("days", __name__)

# Settings of the day pages and the column for print; FLASK_PRINT_* overrides each.
DEFAULTS = {
    # PDFs one address may ask for (public day PDFs and editors' exports together).
    "PRINT_RATE_LIMIT": "10 per minute;60 per hour",
    # PDFs the whole board typesets (a kept one is not counted): each takes a worker for a
    # large fraction of a second per page.
    "PRINT_BOARD_RATE_LIMIT": "300 per hour",
    # The longest range of days an editor may export at once, and the most notices in it
    # (typesetting takes about 35 ms of CPU a notice: 300 take some 10 s).
    "PRINT_MAX_DAYS": 31,
    "PRINT_MAX_NOTICES": 300,
    # PDFs each worker keeps (notices/printing.py): at most this many, and this many bytes.
    "PRINT_CACHE_ENTRIES": 64,
    "PRINT_CACHE_BYTES": 64 * 1024 * 1024,
}

# A day as addresses write it, ASCII digits only: 2026-11-27.
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The most notices one page of a day lists: more than the board publishes in most days; a
# busier day (a bulk import dates its notices as printed) runs on to further pages.
DAY_PAGE_NOTICES = 200
# Roles that may export a column for print.
PRINT_ROLES = ("editor", "admin")
PRINT_LIMIT_MESSAGE = "打印版生成过于频繁。排版一份打印版很费时,每个网络地址每小时可生成的份数有限。"
PRINT_BOARD_LIMIT_MESSAGE = "全站本小时排版的打印版已达上限,请稍后再试;已排好的打印版仍可下载。"


def init_app(app):
    """Set the print settings' defaults, keep PDFs in this worker and serve the day pages."""
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    printing.init_app(app)
    app.register_blueprint(bp)


def parse_day(raw):
    """Return the board day ``raw`` names (2026-11-27), or answer 404: malformed, no such
    date, before the board's first day, or not yet begun."""
    day = _plain_date(raw)
    if day is None or not printing.FIRST_DAY <= day <= expiry.board_today(expiry.utcnow()):
        abort(404)
    return day


def published_on(day):
    """Return the SELECT of the public notices published on ``day``, as a column orders them."""
    return printing.published_between(day, day)


def neighbours(day):
    """Return (the latest day before ``day``, the earliest after it) on which a notice now
    public was published; None where there is none."""
    public = Notice.status.in_(PUBLIC_STATUSES)
    before = db.session.scalar(
        db.select(func.max(Notice.published_on)).where(public, Notice.published_on < day)
    )
    after = db.session.scalar(
        db.select(func.min(Notice.published_on)).where(public, Notice.published_on > day)
    )
    return before, after


def latest_day():
    """Return the latest day on which a notice now public was published, or None."""
    return db.session.scalar(
        db.select(func.max(Notice.published_on)).where(Notice.status.in_(PUBLIC_STATUSES))
    )


@bp.get("/days")
def latest():
    """Go to the day of the latest publication."""
    day = latest_day()
    if day is None:
        abort(404, description="公告栏还没有发布过公告")
    return current_app.redirect(url_for("days.day", day=day.isoformat()))


@bp.get("/days/<day>")
def day(day):
    """Show what was published on one day, grouped by type as the column prints it."""
    return pages.serve(_day_page, day=parse_day(day), page=board.page_number(request.args.get("page")))


def _day_page(today, day, page):
    pagination = board.paginate(published_on(day), page, DAY_PAGE_NOTICES)
    before, after = neighbours(day)
    return render_template(
        "days/day.html", day=day, groups=printing.grouped(pagination.items, today),
        pagination=pagination, printable=pagination.total <= current_app.config["PRINT_MAX_NOTICES"],
        before=before, after=after, today=today,
    )


def _print_limit():
    return current_app.config["PRINT_RATE_LIMIT"]


def _board_print_limit():
    return current_app.config["PRINT_BOARD_RATE_LIMIT"]


def _typeset_here(response):
    return bool(g.get("print_typeset"))


def _asked_range():
    """Return the (first, last) day the PDF of this request covers, or None if its arguments
    are not plain dates (its view will refuse them)."""
    if request.endpoint == "days.day_pdf":
        first = last = _plain_date(request.view_args.get("day", ""))
    else:
        first = _plain_date(request.args.get("date_from", ""))
        last = _plain_date(request.args.get("date_to", "")) or first
    return (first, last) if first and last else None


def _plain_date(raw):
    if len(raw) != 10 or not _DAY.fullmatch(raw):
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def _already_kept():
    # A PDF this worker keeps costs no typesetting: it is sent even when the board's hour of
    # typesetting is used up.
    asked = _asked_range()
    return asked is not None and printing.is_kept(*asked)


# Each address may ask for so many PDFs; the whole board typesets so many an hour, counted
# only when a PDF is typeset and never refusing one kept, so a crowd asking for today's column
# costs one typesetting, and many addresses asking for many days cannot hold the workers.
limit_prints = limiter.shared_limit(_print_limit, scope="print", error_message=PRINT_LIMIT_MESSAGE)
limit_board_prints = limiter.shared_limit(
    _board_print_limit, scope="print-typeset", key_func=lambda: "board",
    deduct_when=_typeset_here, exempt_when=_already_kept, error_message=PRINT_BOARD_LIMIT_MESSAGE,
)


@bp.get("/days/<day>.pdf")
@limit_prints
@limit_board_prints
def day_pdf(day):
    """Send the print PDF of one day's column."""
    day = parse_day(day)
    most = current_app.config["PRINT_MAX_NOTICES"]
    if printing.count_between(day, day) > most:
        abort(404, description=f"这一天的公告超过{most}则,没有打印版")
    return _pdf_response(day, day, f"column-{day.isoformat()}.pdf")


def _pdf_response(date_from, date_to, filename):
    body, g.print_typeset = printing.pdf(date_from, date_to)
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.set_etag(printing.etag(body))
    return response.make_conditional(request)


class PrintForm(FlaskForm):
    """The range an editor exports for print: a GET form, no state changes, no CSRF."""

    class Meta:
        csrf = False
        locales = ["zh"]

    date_from = forms.BoardDateField("发布日期从", [forms.required_date("开始日期")])
    date_to = forms.BoardDateField("发布日期到(不填则只导出一天)")

    def validate(self, extra_validators=None):
        if not super().validate(extra_validators):
            return False
        start, end = self.date_from.data, self.date_to.data or self.date_from.data
        today = expiry.board_today(expiry.utcnow())
        most = current_app.config["PRINT_MAX_DAYS"]
        if start < printing.FIRST_DAY or end > today:
            self.date_to.errors.append(
                f"日期应在{printing.FIRST_DAY.year}年以后、不晚于今天")
        elif end < start:
            self.date_to.errors.append("结束日期不能早于开始日期")
        elif end - start >= timedelta(days=most):
            self.date_to.errors.append(f"一次最多导出{most}天")
        elif printing.count_between(start, end) > current_app.config["PRINT_MAX_NOTICES"]:
            self.date_to.errors.append(
                f"这段时间的公告超过{current_app.config['PRINT_MAX_NOTICES']}则,请缩短日期范围")
        return not self.date_to.errors


@bp.get("/editor/print")
@limit_prints
@limit_board_prints
def export():
    """Export the column of a day or a range of days for print, as PDF (editors only)."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if current_user.role not in PRINT_ROLES:
        abort(403)
    form = PrintForm(formdata=request.args)
    if not request.args:
        return render_template("days/export.html", form=form, problems=[])
    if not form.validate():
        return render_template("days/export.html", form=form, problems=forms.problems(form)), 400
    start, end = form.date_from.data, form.date_to.data or form.date_from.data
    name = f"column-{start.isoformat()}" + (f"-{end.isoformat()}" if end != start else "")
    return _pdf_response(start, end, f"{name}.pdf")
