"""Pages kept per worker (notices/pages.py): served again only while the data generation and the
board's day are the same, never to or from an editor or a reader with a flashed message, never
holding anything of the request that asked first, and bounded whatever the query strings.

Two instances of the board made by create_app on one database file stand for two gunicorn
workers: each keeps its own pages, and only the database connects them.
"""
import sqlite3
from contextlib import closing
from datetime import date
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from conftest import EDITOR_PASSWORD
from conftest import ON_POSTGRESQL
from conftest import PUBLIC_URL
from conftest import config
from conftest import copy_database
from jinja2 import ChoiceLoader
from jinja2 import DictLoader
from sqlalchemy import update

from notices import board
from notices import create_app
from notices import expiry
from notices import pages
from notices import services
from notices.extensions import db
from notices.models import Notice

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The listings that show active notices, and those that show the archive.
ACTIVE = ["/", "/types/loss_declaration", "/api/v1/notices", "/api/v1/notices?type=loss_declaration"]
ARCHIVED = ["/archive", "/archive?type=loss_declaration", "/api/v1/notices?status=archived"]
LISTINGS = ACTIVE + ARCHIVED


@pytest.fixture
def today():
    return expiry.board_today(expiry.utcnow())


@pytest.fixture
def other(app, tmp_path):
    """A second instance of the board on the app's database: another worker."""
    other = create_app(config(tmp_path, tmp_path / "t.db"))
    yield other
    with other.app_context():
        db.engine.dispose()


def text(response):
    return response.get_data(as_text=True)


def kept(app):
    return len(app.extensions["pages"])


def login(client):
    response = client.post("/editor/login", data={"username": "editor", "password": EDITOR_PASSWORD})
    assert response.status_code == 302


def generation(app):
    with app.app_context():
        return board.generation()


def test_listings_are_kept_until_the_generation_changes(app, client, make_notice, today):
    """A change the generation does not announce stays unseen: what readers get is the kept
    page. Touching the generation, as every writer does, shows it on the next request."""
    ref = make_notice("loss_declaration", day=today).ref
    first = [text(client.get(url)) for url in ACTIVE]
    assert all(ref in page for page in first)
    assert kept(app) == len(ACTIVE)
    with app.app_context():
        db.session.execute(update(Notice).where(Notice.ref == ref).values(status="revoked"))
        db.session.commit()
    assert [text(client.get(url)) for url in ACTIVE] == first
    with app.app_context():
        board.touch_generation()
        db.session.commit()
    assert not any(ref in text(client.get(url)) for url in ACTIVE)


def test_an_approval_and_a_revocation_through_one_worker_reach_the_next_page_of_the_other(
        app, other, editor, make_notice, today):
    """Both workers keep every listing; an editor approves, then revokes, through the first;
    the very next request to either worker shows the change."""
    make_notice("loss_declaration", index=0, day=today)
    ref = make_notice("loss_declaration", index=1, status="submitted", day=today).ref
    readers = [app.test_client(), other.test_client()]
    for reader in readers:
        for url in LISTINGS:
            assert ref not in text(reader.get(url))
            assert ref not in text(reader.get(url))
    assert kept(app) == kept(other) == len(LISTINGS)

    editor_client = app.test_client()
    login(editor_client)
    assert editor_client.post(f"/editor/notices/{ref}/approve", data={"confirm": "1"}).status_code == 302
    for reader in reversed(readers):
        for url in ACTIVE:
            assert ref in text(reader.get(url)), url
        for url in ARCHIVED:
            assert ref not in text(reader.get(url)), url

    response = editor_client.post(f"/editor/notices/{ref}/revoke", data={"reason": "提交人申请撤销", "confirm": "1"})
    assert response.status_code == 302
    for reader in reversed(readers):
        for url in ACTIVE:
            assert ref not in text(reader.get(url)), url
        for url in ARCHIVED:
            assert ref in text(reader.get(url)), url


@pytest.mark.parametrize("url", ["/", "/types/loss_declaration", "/api/v1/notices"])
def test_a_notice_leaves_every_workers_kept_page_at_the_midnight_its_window_ends(
        app, other, make_notice, url):
    """The board's day is part of what a page is kept under: at midnight in Lhasa (the server
    in New York) a notice whose last day has ended leaves the listings of both workers."""
    ref = make_notice("loss_declaration", day=date(2024, 3, 8)).ref  # open to 2024-04-07
    readers = [app.test_client(), other.test_client()]
    new_york = ZoneInfo("America/New_York")
    last_minute = datetime(2024, 4, 7, 23, 59, tzinfo=SHANGHAI).astimezone(new_york)
    with time_machine.travel(last_minute, tick=False):
        for reader in readers:
            assert ref in text(reader.get(url))
            assert ref in text(reader.get(url))
    midnight = datetime(2024, 4, 8, 0, 0, tzinfo=SHANGHAI).astimezone(new_york)
    with time_machine.travel(midnight, tick=False):
        for reader in readers:
            assert ref not in text(reader.get(url))
            assert ref in text(reader.get("/archive"))


def test_an_editor_is_never_served_a_kept_page_and_never_fills_one(app, client, editor,
                                                                   make_notice, today):
    make_notice("loss_declaration", day=today)
    login(client)
    for url in LISTINGS:
        response = client.get(url)
        assert response.status_code == 200 and "ETag" not in response.headers
    assert "退出(editor)" in text(client.get("/"))
    assert kept(app) == 0

    reader = app.test_client()
    for url in LISTINGS:
        assert "退出" not in text(reader.get(url))
    assert kept(app) == len(LISTINGS)
    page = client.get("/")
    assert "退出(editor)" in text(page) and "ETag" not in page.headers


def test_a_flashed_message_is_shown_to_its_reader_only_and_never_kept(app, client, make_notice,
                                                                      today):
    make_notice("loss_declaration", day=today)
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "公告已提交,编号 ZZ-1")]
    assert "公告已提交,编号 ZZ-1" in text(client.get("/"))
    assert kept(app) == 0
    others = app.test_client()
    assert "公告已提交" not in text(others.get("/"))
    assert kept(app) == 1
    # Read once, the message is gone, and the reader is served the kept page.
    again = client.get("/")
    assert "公告已提交" not in text(again) and "ETag" in again.headers


@pytest.mark.parametrize("url", LISTINGS)
def test_a_crafted_host_or_script_name_cannot_poison_a_kept_listing(client, make_notice, today,
                                                                     url):
    """Asked first from another Host and scheme, and under a SCRIPT_NAME the board was not
    configured with, a listing is kept as every reader at the public address would get it."""
    make_notice("loss_declaration", day=today)
    crafted = client.get(url, base_url="http://evil.example",
                         headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"})
    under = client.get(url, headers={"Host": "evil.example"},
                       environ_overrides={"SCRIPT_NAME": "//evil.example"})
    assert under.status_code == 404 and "evil.example" not in text(under)
    readers = [client.get(url) for _ in range(2)]
    for response in [crafted, *readers]:
        assert response.status_code == 200
        assert "evil.example" not in text(response)
    assert text(crafted) == text(readers[0]) == text(readers[1])
    if readers[0].content_type.startswith("text/html"):
        assert 'href="/static/board.css"' in text(readers[0])
    else:
        assert all(item["url"].startswith(f"{PUBLIC_URL}/") for item in readers[0].json["items"])


PROBE = ("{{ request.host_url }}|{{ request.script_root }}|{{ request.query_string.decode() }}|"
         "{{ request.cookies|length }}|{{ url_for('public.index') }}")


@pytest.mark.parametrize(
    ("template", "url", "query"),
    [
        ("public/index.html", "/?junk=%3Cscript%3E", ""),
        ("public/kind.html", "/types/loss_declaration?page=1&junk=x", "page=1"),
        ("public/archive.html", "/archive?month=2024-3&type=&junk=x", "month=2024-03&amp;page=1"),
    ],
)
def test_a_kept_listing_holds_nothing_of_the_request_that_filled_it(app, client, template, url,
                                                                    query):
    """Whatever a template reads of the request, the page kept for every reader was rendered at
    the configured address with the page's own arguments: no host, root, junk or cookie."""
    app.jinja_env.loader = ChoiceLoader([DictLoader({template: PROBE}), app.jinja_env.loader])
    client.set_cookie("tracker", "abc")
    first = client.get(url, base_url="http://evil.example",
                       headers={"X-Forwarded-Host": "evil.example"})
    reader = app.test_client().get(url)
    assert text(first) == text(reader) == f"{PUBLIC_URL}/||{query}|0|/"


def test_junk_query_strings_share_one_kept_page(app, client, make_notice, today):
    """Parameters a page does not read, and values read as its defaults, name no page of their
    own: 10,000 distinct query strings keep one page per listing."""
    make_notice("loss_declaration", day=today)
    shapes = [
        "/?x{i}={i}",
        "/types/loss_declaration?page=x{i}&y={i}",
        "/archive?z{i}=1&page=-{i}",
        "/api/v1/notices?sort=date&w{i}=1&q=%20",
    ]
    for i in range(10_000):
        assert client.get(shapes[i % len(shapes)].format(i=i)).status_code == 200
    assert kept(app) == len(shapes)
    assert app.extensions["pages"].used < 1024 * 1024


def test_refused_arguments_are_answered_as_before_and_never_kept(app, client, make_notice, today):
    make_notice("loss_declaration", day=today)
    refused = {
        "/types/no_such_type": 404,
        "/types/loss_declaration?page=2": 404,
        "/archive?month=2024-13": 400,
        "/archive?type=nothing": 404,
        "/api/v1/notices?per_page=0": 400,
        "/api/v1/notices?status=everything": 400,
        "/api/v1/notices?from=yesterday": 400,
        "/api/v1/notices?sort=random": 400,
    }
    for url, status in refused.items():
        assert client.get(url).status_code == status, url
    assert kept(app) == 0
    # One month however it is spelled.
    for month in ["2024-3", "2024-03", "٢٠٢٤-٠٣"]:
        assert client.get(f"/archive?month={month}").status_code == 200
    assert kept(app) == 1


def test_the_kept_pages_are_bounded_however_many_valid_arguments_are_asked(tmp_path, migrated_db):
    """Every page number up to 100,000 is a valid API request; the cache keeps the latest few."""
    path = copy_database(migrated_db, tmp_path / "bounded.db")
    app = create_app({**config(tmp_path, path), "PAGE_CACHE_ENTRIES": 16})
    client = app.test_client()
    for page in range(1, 201):
        assert client.get(f"/api/v1/notices?page={page}&per_page=7").status_code == 200
    assert kept(app) == 16
    with app.app_context():
        db.engine.dispose()


def test_the_cache_forgets_the_least_recently_used_by_count_and_by_size():
    lru = pages.LRU(entries=3, size=100)
    for key in "abc":
        lru.put(key, key.upper(), 10)
    assert lru.get("a") == "A"
    lru.put("d", "D", 10)
    assert lru.get("b") is None and [lru.get(k) for k in "acd"] == ["A", "C", "D"]
    lru.put("e", "E", 90)
    assert [lru.get(k) for k in "acde"] == [None, None, "D", "E"] and lru.used == 100
    lru.put("f", "F", 200)
    assert len(lru) == 0 and lru.used == 0


@pytest.mark.parametrize(
    ("url", "content_type"),
    [
        ("/", "text/html; charset=utf-8"),
        ("/archive", "text/html; charset=utf-8"),
        ("/api/v1/notices", "application/json"),
    ],
)
def test_a_kept_page_has_its_type_and_headers_and_an_etag_that_answers_304(
        app, client, editor, make_notice, today, url, content_type):
    ref = make_notice("loss_declaration", day=today).ref
    first, second = client.get(url), client.get(url)
    assert first.content_type == second.content_type == content_type
    assert first.data == second.data
    assert first.headers["ETag"] == second.headers["ETag"]
    assert "script-src 'self'" in second.headers["Content-Security-Policy"]
    etag = second.headers["ETag"]
    unchanged = client.get(url, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.data == b""
    # A change gives the page a new tag: the old one is answered with the whole page.
    with app.app_context():
        services.revoke(_load(ref), db.session.merge(editor), "提交人申请撤销", now=expiry.utcnow())
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_a_restore_gives_a_new_generation_and_the_restored_listings(app, client, runner, editor,
                                                                    make_notice, today, tmp_path):
    """A backup holds the generation it was made under, and the pages every worker kept then
    may no longer be what it holds: after the restore the generation is new, so no worker
    serves a page kept before it."""
    ref = make_notice("loss_declaration", day=today).ref
    saved = tmp_path / "saved.backup"
    assert runner.invoke(args=["backup", str(saved)]).exit_code == 0
    backed_up = generation(app)
    assert ref in text(client.get("/"))
    if ON_POSTGRESQL:
        # The board changes after the backup; the restore brings back the backup's notice.
        with app.app_context():
            services.revoke(_load(ref), db.session.merge(editor), "提交人申请撤销",
                            now=expiry.utcnow())
        assert ref not in text(client.get("/"))
        shown, archived = ref, None
    else:
        # Revoked in the copy by hand, so the copy's generation is the one the front page
        # was kept under, with the notice on it.
        with closing(sqlite3.connect(saved)) as copy:
            copy.execute("UPDATE notice SET status = 'revoked' WHERE ref = ?", (ref,))
            copy.commit()
            assert copy.execute("SELECT value FROM generation").fetchone() == (backed_up,)
        shown, archived = None, ref
    before = generation(app)
    result = runner.invoke(args=["restore", "--yes", str(saved)])
    assert result.exit_code == 0, result.output
    assert generation(app) not in (None, backed_up, before)
    assert (ref in text(client.get("/"))) == (shown == ref)
    assert (ref in text(client.get("/archive"))) == (archived == ref)


def test_search_results_show_each_notice_once_per_status_and_day(app, client, editor, make_notice,
                                                                 today, monkeypatch):
    """Rows of search results are kept as shown; a revocation shows the row anew, revoked."""
    ref = make_notice("loss_declaration", day=today).ref
    calls = []
    show = board.show
    monkeypatch.setattr(board, "show", lambda notice, day: calls.append(notice.ref) or show(notice, day))
    searches = ["/search?q=扎西央珍&status=all", "/api/v1/notices?q=扎西央珍&status=all"]
    for url in searches:
        assert ref in text(client.get(url))
    assert calls == [ref]
    with app.app_context():
        services.revoke(_load(ref), db.session.merge(editor), "提交人申请撤销", now=expiry.utcnow())
    calls.clear()  # the index's own document of the revoked notice
    assert "已撤销" in text(client.get(searches[0]))
    assert client.get(searches[1]).json["items"][0]["status"] == "revoked"
    assert calls == [ref]


def _load(ref):
    return db.session.scalar(db.select(Notice).where(Notice.ref == ref))


def test_a_kept_row_is_what_board_show_makes_of_the_notice(app, make_notice, today):
    """Every type, an ID number in a name included: the kept row is board.show's, masked."""
    refs = [
        make_notice(code, day=today).ref
        for code in ["supplier_call", "expert_call", "wage_clearance"]
    ] + [make_notice("loss_declaration", day=today, declarant="540102199001011233").ref]
    with app.test_request_context():
        for ref in refs:
            notice = _load(ref)
            made = board.show(notice, today)
            assert pages.show(notice, today) == made  # as made, then kept
            assert pages.show(notice, today) == made  # from the cache, with this row
            assert "540102199001011233" not in repr(pages.show(notice, today))
