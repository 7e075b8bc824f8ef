"""Atom feeds: every active notice, each type's, and any search (an issuer's notices are the
search for that issuer), for readers who follow the board without visiting it.

An entry is a notice as the public sees it: its printed title and wording (ID numbers masked),
its permalink, when it was published (with the board's offset, +08:00) and when its window
ends. A revoked notice is an update of its entry: the same id, a later ``updated`` time, the
title marked 已撤销 and the reason. Feeds are kept like the listings (notices/pages.py), under
the data generation and the day, and answer conditional requests with 304.
"""
from datetime import datetime
from datetime import time
from datetime import timedelta

from feedgen.feed import FeedGenerator
from flask import Blueprint
from flask import Response
from flask import abort
from flask import current_app
from flask import render_template
from flask import request
from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import or_

from notices import board
from notices import days
from notices import expiry
from notices import kinds
from notices import pages
from notices import search
from notices import urls
from notices.extensions import db
from notices.models import Notice
from notices.public import SearchForm
from notices.public import search_args
from notices.wording import cn_date

bp = Blueprint("feeds", __name__, url_prefix="/feeds")

# Entries in a feed: the newest changes first. A reader polling daily misses nothing unless a
# day brings more than this many notices of what it follows.
ENTRIES = 50


@bp.get("/notices.atom")
def notices():
    """Feed the active notices of every type, and the revocations of the window's days."""
    return pages.serve(_listing_feed, code=None)


@bp.get("/types/<code>.atom")
def kind(code):
    """Feed the active notices of one type, and its revocations."""
    if kinds.get(code) is None:
        abort(404)
    return pages.serve(_listing_feed, code=code)


@bp.get("/search.atom")
def searched():
    """Feed the newest notices a search finds: the same arguments as the search page."""
    # The search page's form validates and bounds every argument the feed takes.
    form = SearchForm(formdata=request.args)
    if not (form.q.data or form.issuer.data):
        abort(400, description="订阅搜索需要关键词或发布单位")
    if search.numbers_in(form.q.data):
        # A document number in a feed's address would sit in every feed reader's list and
        # proxy log, and a feed would look numbers up past the lookups' limits.
        abort(400, description="不能订阅按证件号码的搜索:要在某个证件被声明作废时得到通知,请用证件挂失查询")
    if not form.validate():
        abort(400, description="搜索条件有误:" + "；".join(
            f"{form[name].label.text}{messages[0]}" for name, messages in form.errors.items()
        ))
    return pages.serve(_search_feed, **search_args(form))


def _listing_feed(today, code):
    kind = kinds.get(code) if code else None
    since = _revoked_since(today)
    query = db.select(Notice).where(or_(
        and_(Notice.status == "published", expiry.active_clause(Notice.window_end, today)),
        and_(Notice.status == "revoked", Notice.closed_at >= since),
    ), board.current_clause())
    if code:
        query = query.where(Notice.kind == code)
    changed = func.coalesce(Notice.closed_at, Notice.published_at)
    found = db.session.scalars(query.order_by(changed.desc(), Notice.id.desc()).limit(ENTRIES))
    title = f"{kind.name} · 公告栏" if kind else "公告栏 · 正在公示的公告"
    page = urls.public_url("public.kind", code=code) if kind else urls.public_url("public.index")
    return _feed(title, page, list(found), today)


def _search_feed(today, **args):
    """Return the feed of the search ``args`` (public.search_args) names."""
    q, issuer, status = args.get("q"), args.get("issuer"), args["status"]
    options = dict(
        today=today, kind=args.get("type"), issuer=issuer, sort="date", page=1,
        per_page=ENTRIES, date_from=args.get("date_from"), date_to=args.get("date_to"),
    )
    refs = [hit.ref for hit in search.search(q, status=status, **options).hits]
    if status == "active":
        # A notice revoked while the window ran leaves the active search; its subscribers
        # still see the revocation, as an update of its entry.
        recent = {**options, "date_from": max(filter(None, [
            options["date_from"], today - timedelta(days=current_app.config["NOTICE_WINDOW_DAYS"])
        ]))}
        refs += [hit.ref for hit in search.search(q, status="archived", **recent).hits]
    found = [n for n in board.in_rank_order(refs) if _in_feed(n, today)]
    found.sort(key=_changed, reverse=True)
    words = " ".join(filter(None, [q, issuer]))
    return _feed(f"“{words}”的搜索结果 · 公告栏", urls.public_url("public.search_page", **args),
                 found[:ENTRIES], today)


def _in_feed(notice, today):
    """Whether a notice a search found belongs in a feed: open, or revoked of late."""
    if notice.status == "revoked":
        return notice.closed_at >= _revoked_since(today)
    return notice.status == "published"


def _revoked_since(today):
    """Return the moment from which revocations are still news: a window's length ago."""
    days = current_app.config["NOTICE_WINDOW_DAYS"]
    return datetime.combine(today - timedelta(days=days), time(), expiry.BOARD_TZ)


def _changed(notice):
    return notice.closed_at if notice.status == "revoked" else notice.published_at


def _feed(title, page, found, today):
    """Return the Atom document of ``found``, newest change first, as a response."""
    feed = FeedGenerator()
    # Rendered at the board's public address with the validated arguments alone (pages.serve).
    self_url = request.url
    feed.id(self_url)
    feed.title(title)
    feed.link(href=self_url, rel="self", type="application/atom+xml")
    feed.link(href=page, rel="alternate", type="text/html")
    feed.language("zh-CN")
    feed.author(name="公告栏")
    # With no entries, the feed last changed when the board's day began.
    latest = max((_changed(n) for n in found),
                 default=datetime.combine(today, time(), expiry.BOARD_TZ))
    feed.updated(latest.astimezone(expiry.BOARD_TZ))
    for notice in found:
        _entry(feed, pages.show(notice, today))
    response = Response(feed.atom_str(pretty=True), mimetype="application/atom+xml")
    response.last_modified = latest
    return response


def _entry(feed, shown):
    notice = shown.notice
    permalink = urls.public_url("public.notice", ref=notice.ref)
    entry = feed.add_entry(order="append")
    entry.id(permalink)
    entry.link(href=permalink, rel="alternate", type="text/html")
    revoked = notice.status == "revoked"
    entry.title(f"【已撤销】{shown.title}" if revoked else shown.title)
    entry.published(notice.published_at.astimezone(expiry.BOARD_TZ))
    entry.updated(_changed(notice).astimezone(expiry.BOARD_TZ))
    entry.category(term=notice.kind, label=shown.kind.name)
    entry.summary(shown.status_line)
    entry.content(render_template("feeds/entry.html", shown=shown), type="html")


# The most entries a day's feed carries: far more than the board publishes in a day, so the
# whole day's issue is there, yet a bound on what one request renders.
DAY_ENTRIES = 500


@bp.get("/days/<day>.atom")
def day(day):
    """Feed the notices published on one board day, revoked ones as updates of their entry."""
    return pages.serve(_day_feed, day=days.parse_day(day))


def _day_feed(today, day):
    found = list(db.session.scalars(days.published_on(day).limit(DAY_ENTRIES)))
    found.sort(key=_changed, reverse=True)
    page = urls.public_url("days.day", day=day.isoformat())
    return _feed(f"{cn_date(day)}发布的公告 · 公告栏", page, found, today)
