"""Search pages kept per worker (notices/pages.py, serve_search): served again only while the
data generation, the index's generations, the board's day and the search's arguments are the
same; never to or from an editor or a reader with a flashed message; holding nothing of the
request that asked first, each reader's answer carrying that reader's own CSRF token; bounded
however many searches nobody repeats.

Two instances of the board made by create_app on one database (and one index folder) stand for
two gunicorn workers: each keeps its own pages, and only the database and the index connect them.
"""
import re
from datetime import datetime
from datetime import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from conftest import EDITOR_PASSWORD
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
from notices import search
from notices import services
from notices.extensions import db
from notices.extensions import limiter
from notices.models import Notice

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The declarant of the first loss declaration of the seeds, and words in every one of them.
NAME = "扎西央珍"
COMMON = "遗失"
TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')
# Published some days ago, so that the notice is live when indexed now and its window ends
# a few days ahead, where the tests travel.
PUBLISHED = expiry.board_today(expiry.utcnow()) - timedelta(days=25)
WINDOW_END = PUBLISHED + timedelta(days=30)


def shanghai(day, hour, minute=0):
    return datetime.combine(day, time(hour, minute), SHANGHAI)


@pytest.fixture
def today():
    return expiry.board_today(expiry.utcnow())


@pytest.fixture
def other(app, tmp_path):
    """A second instance of the board on the app's database and index: another worker."""
    other = create_app(config(tmp_path, tmp_path / "t.db", app.config["SEARCH_ENGINE"]))
    yield other
    with other.app_context():
        db.engine.dispose()


def text(response):
    return response.get_data(as_text=True)


def kept(app):
    return len(app.extensions["searches"])


def login(client):
    response = client.post("/editor/login", data={"username": "editor", "password": EDITOR_PASSWORD})
    assert response.status_code == 302


def searched(client, q, **args):
    response = client.get("/search", query_string={"q": q, **args})
    assert response.status_code == 200
    return text(response)


def test_a_search_page_is_kept_until_the_generation_changes(app, client, make_notice, today):
    """A change the generation does not announce stays unseen: what readers get is the kept
    page. Touching the generation, as every writer does, shows it on the next request."""
    ref = make_notice("loss_declaration", day=today).ref
    first = searched(client, NAME)
    assert ref in first and "state-revoked" not in first
    assert searched(client, NAME) == first
    assert kept(app) == 1
    with app.app_context():
        db.session.execute(update(Notice).where(Notice.ref == ref).values(status="revoked"))
        db.session.commit()
    assert searched(client, NAME) == first
    with app.app_context():
        board.touch_generation()
        db.session.commit()
    # The index was never told: it still finds the notice, whose row now says revoked.
    assert "state-revoked" in searched(client, NAME)


def test_an_approval_and_a_revocation_through_one_worker_reach_the_next_search_of_the_other(
        app, other, editor, make_notice, today):
    """Both workers keep the search; an editor approves, then revokes, through the first; the
    very next search on either worker shows the change."""
    make_notice("loss_declaration", index=0, day=today)
    ref = make_notice("loss_declaration", index=1, status="submitted", day=today).ref
    readers = [app.test_client(), other.test_client()]
    for reader in readers:
        for status in ("active", "all"):
            assert ref not in searched(reader, COMMON, status=status)
            assert ref not in searched(reader, COMMON, status=status)
    assert kept(app) == kept(other) == 2

    editor_client = app.test_client()
    login(editor_client)
    assert editor_client.post(f"/editor/notices/{ref}/approve", data={"confirm": "1"}).status_code == 302
    for reader in reversed(readers):
        assert ref in searched(reader, COMMON)
        assert ref in searched(reader, COMMON, status="all")
        assert ref not in searched(reader, COMMON, status="archived")

    response = editor_client.post(f"/editor/notices/{ref}/revoke", data={"reason": "提交人申请撤销", "confirm": "1"})
    assert response.status_code == 302
    for reader in reversed(readers):
        assert ref not in searched(reader, COMMON)
        assert ref in searched(reader, COMMON, status="archived")


@pytest.mark.search_engine("whoosh")
def test_a_page_kept_before_the_index_caught_up_is_not_served_after(app, other, editor,
                                                                    make_notice, today):
    """Whoosh's index follows a commit in the drain that comes after it: a search between the
    two finds the old index under the new data generation. The index's own generation is part
    of what the page is kept under, so the drain, in whichever worker, shows the notice."""
    make_notice("loss_declaration", index=0, day=today)
    ref = make_notice("loss_declaration", index=1, status="submitted", day=today).ref
    readers = [app.test_client(), other.test_client()]
    # Approved as a worker does, the index written after the commit: not yet.
    other.config["SEARCH_INDEX_ON_COMMIT"] = False
    with other.app_context():
        notice = db.session.scalar(db.select(Notice).where(Notice.ref == ref))
        services.approve(notice, db.session.merge(editor), now=expiry.utcnow())
    for reader in readers:
        assert ref not in searched(reader, COMMON)
        assert ref not in searched(reader, COMMON)
    with other.app_context():
        assert search.drain() == 1
    for reader in readers:
        assert ref in searched(reader, COMMON)


@pytest.mark.parametrize("status", ["active", "archived"])
def test_a_notice_leaves_every_workers_kept_search_at_the_midnight_its_window_ends(
        app, other, make_notice, status):
    """The board's day is part of what a search is kept under: at midnight in Lhasa (the server
    in New York) a notice whose last day has ended leaves the default search of both workers
    and enters the archive's."""
    ref = make_notice("loss_declaration", day=PUBLISHED).ref
    readers = [app.test_client(), other.test_client()]
    new_york = ZoneInfo("America/New_York")
    last_minute = shanghai(WINDOW_END, 23, 59).astimezone(new_york)
    with time_machine.travel(last_minute, tick=False):
        for reader in readers:
            assert (ref in searched(reader, NAME, status=status)) == (status == "active")
            assert (ref in searched(reader, NAME, status=status)) == (status == "active")
    midnight = shanghai(WINDOW_END + timedelta(days=1), 0, 0).astimezone(new_york)
    with time_machine.travel(midnight, tick=False):
        for reader in readers:
            assert (ref in searched(reader, NAME, status=status)) == (status == "archived")


def test_an_editor_is_never_served_a_kept_search_and_never_fills_one(app, client, editor,
                                                                     make_notice, today):
    ref = make_notice("loss_declaration", day=today).ref
    login(client)
    page = searched(client, NAME)
    assert ref in page and "退出(editor)" in page
    assert kept(app) == 0

    reader = app.test_client()
    assert ref in searched(reader, NAME) and "退出" not in searched(reader, NAME)
    assert kept(app) == 1
    assert "退出(editor)" in searched(client, NAME)


def test_a_flashed_message_is_shown_to_its_reader_only_and_never_kept(app, client, make_notice,
                                                                      today):
    make_notice("loss_declaration", day=today)
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "公告已提交,编号 ZZ-1")]
    assert "公告已提交,编号 ZZ-1" in searched(client, NAME)
    assert kept(app) == 0
    assert "公告已提交" not in searched(app.test_client(), NAME)
    assert kept(app) == 1
    # Read once, the message is gone, and the reader is served the kept page.
    assert "公告已提交" not in searched(client, NAME)


def test_a_crafted_host_or_script_name_cannot_poison_a_kept_search(client, make_notice, today):
    ref = make_notice("loss_declaration", day=today).ref
    url = f"/search?q={NAME}&junk=%3Cscript%3E"
    crafted = client.get(url, base_url="http://evil.example",
                         headers={"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"})
    readers = [client.get(url) for _ in range(2)]
    for response in [crafted, *readers]:
        assert response.status_code == 200
        assert "evil.example" not in text(response) and "junk" not in text(response)
        assert ref in text(response)
    assert 'href="/static/board.css"' in text(readers[0])


PROBE = ("{{ request.host_url }}|{{ request.script_root }}|{{ request.query_string.decode() }}|"
         "{{ request.cookies|length }}|{{ url_for('public.index') }}|{{ csrf_token_value is none }}")


def test_a_kept_search_holds_nothing_of_the_request_that_filled_it(app, client):
    """Whatever the template reads of the request, the page kept for every reader was rendered
    at the configured address with the search's own validated arguments: no host, root, junk,
    cookie or default; and it holds no token of its own."""
    app.jinja_env.loader = ChoiceLoader([DictLoader({"public/search.html": PROBE}), app.jinja_env.loader])
    client.set_cookie("tracker", "abc")
    url = "/search?q=%E5%B7%A5%E8%B5%84&status=active&sort=relevance&page=1&junk=x&type="
    first = client.get(url, base_url="http://evil.example", headers={"X-Forwarded-Host": "evil.example"})
    reader = app.test_client().get("/search?q=%E5%B7%A5%E8%B5%84")
    assert text(first) == text(reader) == f"{PUBLIC_URL}/||q=%E5%B7%A5%E8%B5%84|0|/|False"
    assert kept(app) == 1


@pytest.fixture
def protected(app):
    """The board with CSRF protection on, as it runs for real."""
    protected = create_app({**app.config, "WTF_CSRF_ENABLED": True})
    yield protected
    with protected.app_context():
        db.engine.dispose()


def test_each_reader_of_a_kept_search_gets_a_token_of_their_own_that_works(protected,
                                                                          make_notice, today):
    """The alert form on a kept page carries each reader's own CSRF token, never the one of
    whoever asked first nor the placeholder: each reader can subscribe with it, and not with
    another reader's."""
    make_notice("loss_declaration", day=today)
    first, second = protected.test_client(), protected.test_client()
    pages_ = [searched(first, NAME), searched(second, NAME)]
    assert kept(protected) == 1
    tokens = [TOKEN.search(page).group(1) for page in pages_]
    assert tokens[0] != tokens[1]
    assert pages.CSRF_PLACEHOLDER not in pages_[0] + pages_[1]
    assert TOKEN.sub("", pages_[0]) == TOKEN.sub("", pages_[1])
    form = {"q": NAME, "email": "reader@example.cn", "frequency": "daily"}
    assert second.post("/alerts/new", data=dict(form, csrf_token=tokens[0])).status_code == 400
    answer = second.post("/alerts/new", data=dict(form, csrf_token=tokens[1]))
    assert answer.status_code in (200, 302) and "CSRF" not in text(answer)


def test_past_the_last_page_is_404_and_never_kept(app, client, make_notice, today):
    make_notice("loss_declaration", day=today)
    assert client.get("/search", query_string={"q": NAME, "page": 2}).status_code == 404
    assert client.get("/search", query_string={"q": NAME, "type": "nothing"}).status_code == 200
    assert kept(app) == 0
    # A page number typed in another script is the same page.
    for page in ["1", "01", "١"]:
        assert client.get("/search", query_string={"q": NAME, "page": page}).status_code == 200
    assert kept(app) == 1


def test_a_missed_number_served_from_a_kept_page_still_counts_against_the_day(app):
    """The daily budget of number lookups that find nothing counts every such search, the
    kept answers too: asking the same missing number again never gets past it."""
    limited = create_app({**app.config, "RATELIMIT_ENABLED": True,
                          "LOOKUP_RATE_LIMIT": "100 per hour", "LOOKUP_DAILY_MISSES": 3})
    limiter.init_app(limited)
    limiter.reset()
    try:
        client = limited.test_client()
        codes = [client.get("/search", query_string={"q": "540102199001011233"},
                            environ_base={"REMOTE_ADDR": f"198.51.100.{i}"}).status_code
                 for i in range(1, 6)]
        assert codes == [200, 200, 200, 429, 429]
        assert kept(limited) == 1
    finally:
        limiter.reset()
        with limited.app_context():
            db.engine.dispose()


def junk(i):
    """Return the i-th of many distinct strings of punctuation."""
    marks = "!#$%&*+-=?@^~"
    out = ""
    while True:
        i, mark = divmod(i, len(marks))
        out += marks[mark]
        if not i:
            return out


def test_searches_nobody_repeats_stay_within_the_bound_and_never_push_a_listing_out(
        tmp_path, migrated_db):
    """1,000 searches, each asked once (fifteen times the bound), keep at most the configured entries and bytes; the
    listings' own cache keeps the front page; junk parameters name no page of their own."""
    path = copy_database(migrated_db, tmp_path / "bounded.db")
    app = create_app({**config(tmp_path, path), "SEARCH_CACHE_ENTRIES": 64,
                      "SEARCH_CACHE_BYTES": 512 * 1024})
    client = app.test_client()
    assert client.get("/").status_code == 200
    front = len(app.extensions["pages"])
    searches = app.extensions["searches"]
    for i in range(1_000):
        # Junk a script sends (punctuation only: nothing to look for, a page all the same),
        # and every tenth a real search of its own.
        q = f"工资 {i}" if i % 10 == 0 else junk(i)
        assert client.get("/search", query_string={"q": q}).status_code == 200
        assert len(searches) <= 64 and searches.used <= 512 * 1024
    assert len(searches) > 1
    assert len(app.extensions["pages"]) == front
    searches_before = len(searches)
    for i in range(200):
        assert client.get("/search", query_string={"q": "工资9999", f"x{i}": i}).status_code == 200
    assert len(searches) == searches_before
    with app.app_context():
        db.engine.dispose()


def test_the_day_turning_with_no_change_gives_a_new_kept_page(app, client, make_notice):
    """The day is in the key, so the status line each row shows (days left) is of the day."""
    ref = make_notice("loss_declaration", day=PUBLISHED).ref
    shown = []
    for day in (WINDOW_END - timedelta(days=2), WINDOW_END - timedelta(days=1)):
        with time_machine.travel(shanghai(day, 12), tick=False):
            shown.append(searched(client, NAME))
    assert all(ref in page for page in shown)
    assert shown[0] != shown[1]
    assert kept(app) == 2



@pytest.mark.search_engine("whoosh")
@pytest.mark.parametrize("word", ["有限公司", "建设项目"])
def test_a_folded_word_ranks_and_scores_as_its_two_clauses_did(app, make_notice, today, word):
    """A word whose jieba words hold exactly its own character pairs is searched with one
    clause (engine._folded); it finds the same notices in the same order, with the same
    scores, as the word's clause OR its jieba words' clause, which it replaces."""
    from whoosh import query as Q

    from notices.search import engine

    for index in range(6):
        make_notice("loss_declaration", index=index, day=today)
    for code in ("supplier_call", "expert_call", "wage_clearance"):
        make_notice(code, day=today)
    make_notice("supplier_call", day=today, details=f"{word}采购\n{word}{word}")
    folded = engine.build_query(word)[0]
    whole = engine._substring(word, exact=False)
    pieces = list(dict.fromkeys(w for w, *_ in engine.words(word) if len(w) > 1))
    parts = [engine._substring(p, exact=False) for p in pieces]
    assert engine._folded(whole, parts) is not None
    unfolded = Q.Or([Q.Or([whole, Q.Term("words", word, boost=2.0)]), Q.And(parts, boost=0.5)])
    with app.app_context(), engine.whole_searcher() as searcher:
        new = [(hit["ref"], hit.score) for hit in searcher.search(folded, limit=None)]
        old = [(hit["ref"], hit.score) for hit in searcher.search(unfolded, limit=None)]
    assert new and [ref for ref, _ in new] == [ref for ref, _ in old]
    assert [score for _, score in new] == pytest.approx([score for _, score in old], rel=1e-12)
