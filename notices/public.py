"""Pages for everyone: the front page, a page per type, permalinks and the archive."""
import re

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import render_template
from flask import request
from flask import url_for
from flask_wtf import FlaskForm
from wtforms import SelectChoice
from wtforms import SelectField
from wtforms import StringField
from wtforms.validators import Optional

from notices import board
from notices import corrections
from notices import documents
from notices import expiry
from notices import forms
from notices import kinds
from notices import lookups
from notices import pages
from notices import search
from notices import wording
from notices.extensions import db
from notices.objections import records as objections

bp = Blueprint("public", __name__)

# How many notices of each type the front page shows before linking to the type's page.
FRONT_PAGE_PER_KIND = 10


def _page():
    return board.page_number(request.args.get("page"))


def _paginate(query, page):
    return board.paginate(query, page, current_app.config["PER_PAGE"])


def _kind_or_404(code):
    kind = kinds.get(code)
    if kind is None:
        abort(404)
    return kind


@bp.get("/healthz")
def healthz():
    """Answer that the board is up and its database reachable (for monitors and load balancers)."""
    db.session.execute(db.text("SELECT 1"))
    return {"status": "ok"}


@bp.get("/")
def index():
    """Show the active notices grouped by type, as the newspaper's column does."""
    return pages.serve(_front_page)


def _front_page(today):
    counts = board.counts("active", today)
    columns = []
    for kind in kinds.KINDS.values():
        query = board.listing("active", today, kind.code).limit(FRONT_PAGE_PER_KIND)
        shown = [pages.show(n, today) for n in db.session.scalars(query)]
        columns.append((kind, shown, counts.get(kind.code, 0)))
    return render_template("public/index.html", columns=columns, today=today)


@bp.get("/types/<code>")
def kind(code):
    """List the active notices of one type."""
    return pages.serve(_kind_page, code=_kind_or_404(code).code, page=_page())


def _kind_page(today, code, page):
    pagination = _paginate(board.listing("active", today, code), page)
    shown = [pages.show(n, today) for n in pagination.items]
    return render_template(
        "public/kind.html", kind=kinds.get(code), shown=shown, pagination=pagination, today=today
    )


@bp.get("/notices/<ref>")
def notice(ref):
    """Show one notice at its permanent address, whatever its state."""
    state = board.permalink_state(ref)
    if state is None:
        abort(404)
    status, in_correction, received, resolved = state
    # A published notice changes only by revocation or correction, and its page by objections
    # to it: it is kept across generations under its status and its objections' counts, and
    # under the generation too while it takes part in a correction (every correction,
    # approval and revocation gives a new one).
    key = (status, board.generation() if in_correction else None, received, resolved)
    return pages.serve(_notice_page, depends_on=key, ref=ref)


def _notice_page(today, ref):
    shown = pages.show(board.find(ref), today)
    superseded, correcting = corrections.public_view(shown.notice, today)
    return render_template(
        "public/notice.html", shown=shown, today=today,
        superseded=superseded, correcting=correcting,
        objection_counts=objections.public_counts(shown.notice),
        objecting=objections.is_open(shown.notice, today),
    )


@bp.get("/archive")
def archive():
    """Browse expired and revoked notices by type and month."""
    code = request.args.get("type") or None
    if code:
        _kind_or_404(code)
    month = request.args.get("month") or None
    if month:
        match = re.fullmatch(r"(\d{4})-(\d{1,2})", month)
        if not match or not 1 <= int(match.group(2)) <= 12:
            abort(400, description="月份格式应为 年-月,如 2024-03")
        # One spelling per month (2024-3 and 2024-03, digits of any script), one kept page.
        month = f"{int(match.group(1)):04d}-{int(match.group(2)):02d}"
    return pages.serve(_archive_page, type=code, month=month, page=_page())


def _archive_page(today, type, month, page):
    query = board.listing("archived", today, type)
    if month:
        query = board.in_month(query, int(month[:4]), int(month[5:]))
    pagination = _paginate(query, page)
    return render_template(
        "public/archive.html",
        kind=kinds.get(type) if type else None,
        month=month,
        months=board.archive_months(today, type),
        shown=[pages.show(n, today) for n in pagination.items],
        pagination=pagination,
        today=today,
    )


class SearchForm(FlaskForm):
    """The search box and its filters: a GET form, so no CSRF token and shareable URLs."""

    class Meta:
        csrf = False
        locales = ["zh"]

    # Without invisible characters, as search reads them (西藏\u200b开发 is 西藏开发).
    q = StringField("关键词", filters=[lambda v: wording.visible((v or "").strip())[: search.MAX_QUERY]])
    type = SelectField("公告类型", choices=[SelectChoice("", "全部类型")] + [
        SelectChoice(code, kind.short_name) for code, kind in kinds.KINDS.items()
    ], default="")
    status = SelectField("搜索范围", choices=forms.choices(
        {"active": "正在公示", "archived": "归档", "all": "全部"}
    ), default="active")
    date_from = forms.BoardDateField("发布日期从", [Optional()])
    # Each label says the whole of what its field holds: a screen reader, or anyone reading a
    # field alone on a narrow screen, hears "发布日期到", not "到".
    date_to = forms.BoardDateField("发布日期到", [Optional()])
    issuer = StringField("发布者", filters=[lambda v: wording.visible((v or "").strip())[:100]])
    sort = SelectField(
        "排序方式", choices=forms.choices({"relevance": "相关度", "date": "发布日期"}), default="relevance"
    )


@bp.get("/search")
@lookups.limited(exempt_when=lookups.asks_no_number)
def search_page():
    """Search published notices by what people remember of them."""
    form = SearchForm(formdata=request.args)
    if not (request.args.get("q") or request.args.get("issuer")) or not form.validate():
        today = expiry.board_today(expiry.utcnow())
        return render_template("public/search.html", form=form, found=None, shown=[], today=today)
    # The search's arguments as validated, none that is the default: they name the kept page,
    # and a page kept for everyone is rendered from them alone.
    args = search_args(form)
    if args["status"] == "active":
        del args["status"]
    if form.sort.data != "relevance":
        args["sort"] = form.sort.data
    if (page := _page()) != 1:
        args["page"] = page
    response, total = pages.serve_search(_search_results, **args)
    lookups.searched(form.q.data, total)
    if response is None:
        abort(404)
    return response


def _search_results(today, token, **_args):
    """Return (the search page of this request's arguments, how many notices it found), the
    page None past the last; ``token`` is what its alert form carries as the CSRF token
    (None: this reader's own)."""
    form = SearchForm(formdata=request.args)
    form.validate()
    options = dict(
        today=today, kind=form.type.data or None, date_from=form.date_from.data,
        date_to=form.date_to.data, issuer=form.issuer.data or None,
    )
    page, per_page = _page(), current_app.config["PER_PAGE"]
    found = search.search(
        form.q.data, status=form.status.data, sort=form.sort.data, page=page,
        per_page=per_page, **options,
    )
    last = board.last_page(found.total, per_page)
    if page > last:
        return None, found.total
    shown = [pages.show(n, today) for n in board.in_rank_order([h.ref for h in found.hits])]
    # A search by document number has no feed (feeds.searched refuses it); it is followed
    # as a watch instead, which keeps only the number's hash.
    by_number = bool(search.numbers_in(form.q.data))
    # With nothing found in the chosen scope the page links to the wider one without
    # counting it first: a count reads the archive, which is what the default scope spares.
    return render_template(
        "public/search.html", form=form, found=found, shown=shown, today=today,
        pages=last, words=search.split_query(form.q.data)[1],
        feeds=[] if by_number else [("这次搜索", url_for("feeds.searched", **search_args(form)))],
        watch=by_number, csrf_token_value=token,
    ), found.total


def search_args(form):
    """Return what the search in ``form`` looks for as the arguments of an address: the words
    and filters given (dates as dates), none empty, no page or sort. The search page's feed,
    the feed itself and the feed's link back to the page all name a search by these."""
    names = ("q", "type", "status", "date_from", "date_to", "issuer")
    return {name: form[name].data for name in names if form[name].data}


def _lost_number():
    return documents.normalize_number(request.args.get("number", "")[:100])[:40]


@bp.get("/lost")
@lookups.limited(exempt_when=lambda: not _lost_number())
def lost():
    """Look up whether a document number has been declared void."""
    typed = request.args.get("number", "")[:100]
    number = _lost_number()
    today = expiry.board_today(expiry.utcnow())
    items = board.lost_documents(number, today) if number else None
    if items == []:
        lookups.missed()
    return render_template("public/lost.html", typed=typed, number=number, items=items, today=today)
