"""Pages for everyone: the front page, a page per type, permalinks and the archive."""
import re

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import render_template
from flask import request

from notices import board
from notices import expiry
from notices import kinds
from notices.extensions import db

bp = Blueprint("public", __name__)

# How many notices of each type the front page shows before linking to the type's page.
FRONT_PAGE_PER_KIND = 10


def _page():
    return max(request.args.get("page", 1, type=int), 1)


def _paginate(query):
    return db.paginate(query, page=_page(), per_page=current_app.config["PER_PAGE"], error_out=False)


def _kind_or_404(code):
    kind = kinds.get(code)
    if kind is None:
        abort(404)
    return kind


@bp.get("/")
def index():
    """Show the active notices grouped by type, as the newspaper's column does."""
    today = expiry.board_today(expiry.utcnow())
    counts = board.counts("active", today)
    columns = []
    for kind in kinds.KINDS.values():
        query = board.listing("active", today, kind.code).limit(FRONT_PAGE_PER_KIND)
        shown = [board.show(n, today) for n in db.session.scalars(query)]
        columns.append((kind, shown, counts.get(kind.code, 0)))
    return render_template("public/index.html", columns=columns, today=today)


@bp.get("/types/<code>")
def kind(code):
    """List the active notices of one type."""
    kind = _kind_or_404(code)
    today = expiry.board_today(expiry.utcnow())
    pagination = _paginate(board.listing("active", today, kind.code))
    shown = [board.show(n, today) for n in pagination.items]
    return render_template(
        "public/kind.html", kind=kind, shown=shown, pagination=pagination, today=today
    )


@bp.get("/notices/<ref>")
def notice(ref):
    """Show one notice at its permanent address, whatever its state."""
    notice = board.find(ref)
    if notice is None:
        abort(404)
    today = expiry.board_today(expiry.utcnow())
    return render_template("public/notice.html", shown=board.show(notice, today), today=today)


@bp.get("/archive")
def archive():
    """Browse expired and revoked notices by type and month."""
    code = request.args.get("type") or None
    kind = _kind_or_404(code) if code else None
    month = request.args.get("month") or None
    today = expiry.board_today(expiry.utcnow())
    query = board.listing("archived", today, code)
    if month:
        match = re.fullmatch(r"(\d{4})-(\d{1,2})", month)
        if not match or not 1 <= int(match.group(2)) <= 12:
            abort(400, description="月份格式应为 年-月,如 2024-03")
        query = board.in_month(query, int(match.group(1)), int(match.group(2)))
    pagination = _paginate(query)
    return render_template(
        "public/archive.html",
        kind=kind,
        month=month,
        months=board.archive_months(today, code),
        shown=[board.show(n, today) for n in pagination.items],
        pagination=pagination,
        today=today,
    )
