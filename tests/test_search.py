import multiprocessing
import threading
import time
from datetime import date

import pytest
from data.corpus import NOTICES
from data.corpus import QUERIES
from whoosh import query as Q
from whoosh.index import LockError

from notices import board
from notices import create_app
from notices import expiry
from notices import kinds
from notices import search
from notices import services
from notices.extensions import db
from notices.models import IndexOutbox
from notices.models import Notice
from notices.models import User
from notices.search import engine

K = 5
# The Whoosh index's own workings (its outbox, locks and tiers), tested on either database.
WHOOSH = pytest.mark.search_engine("whoosh")


@pytest.fixture
def corpus(app, editor):
    """Publish the labelled corpus; return {key: ref}."""
    refs = {}
    today = expiry.board_today(expiry.utcnow())
    with app.app_context():
        user = db.session.merge(editor)
        for key, code, data in NOTICES:
            kind = kinds.get(code)
            data = dict(data, consent_publication=True)
            if kind.submitter_sets_window:
                data["window_start"] = today.isoformat()
            notice, _ = services.submit(kind, services.flatten(data), now=expiry.utcnow())
            services.approve(notice, user, now=expiry.utcnow())
            refs[key] = notice.ref
    return refs


def run(query):
    """Return the refs of the top K public notices for a Whoosh query."""
    with search.whole_searcher() as searcher:
        return [hit["ref"] for hit in searcher.search(query, limit=K)]


def board_search(q):
    today = expiry.board_today(expiry.utcnow())
    return [hit.ref for hit in search.search(q, today=today, status="all", per_page=K).hits]


def jieba_only(q):
    """The stock approach: the query's jieba words, all required, in the word field."""
    words = [w for w, *_ in search.words(q.replace("“", "").replace("”", ""))]
    return run(Q.And([Q.Term("words", w) for w in words])) if words else []


def bigrams_only(q):
    """Substrings only: each typed word as a phrase of character bigrams."""
    phrases, typed = search.split_query(q)
    clauses = [c for c in (engine._substring(w) for w in phrases + typed) if c is not None]
    return run(Q.And(clauses)) if clauses else []


def measure(find, refs):
    recall = precision = 0.0
    misses = []
    for q, keys in QUERIES:
        relevant = {refs[k] for k in keys}
        found = find(q)
        hits = len(relevant & set(found))
        recall += hits / min(len(relevant), K)
        precision += hits / len(found) if found else 0.0
        if hits < min(len(relevant), K) or len(found) > hits:
            misses.append(q)
    return recall / len(QUERIES), precision / len(QUERIES), misses


def test_labelled_queries_recall_and_precision(app, corpus, capsys):
    """Measure the board's search against the two analyses it combines, each alone on a
    Whoosh index of the same notices (built here when the board searches with PostgreSQL)."""
    with app.app_context():
        if app.config["SEARCH_ENGINE"] != "whoosh":
            engine.reindex(board.public_notices())
        figures = {name: measure(find, corpus) for name, find in [
            ("jieba words only", jieba_only),
            ("character bigrams only", bigrams_only),
            ("board search", board_search),
        ]}
    with capsys.disabled():
        print(f"\n{len(QUERIES)} labelled queries over {len(NOTICES)} notices")
        for name, (recall, precision, misses) in figures.items():
            print(f"  {name:24} recall@{K} {recall:.3f}  precision@{K} {precision:.3f}  imperfect: {misses}")
    recall, precision, _ = figures["board search"]
    assert recall == 1.0
    assert precision >= 0.95
    assert recall > figures["jieba words only"][0]
    assert precision >= figures["character bigrams only"][1]


HOSTILE = [
    '"', '""', "'", "(", ")", "((工资", "[a TO z]", "{}", "AND", "OR", "NOT", "NOT NOT a",
    "工资 AND OR NOT", "a OR b", "status:pending", "status:submitted", "ref:*", "kind:loss_declaration",
    "*", "?", "工*", "工?", "~2", "工资~", "^3", "工资^10", "x" * 40_000, "工" * 5000,
    "\x00", "a\x00b", "\u200b", "🙂", "䷀☃", "ཀ་ཁ་ག་", "  ", "\n\t",
    "<script>alert(1)</script>", "' OR 1=1 --", "%", "_", "\\", "/", "工资" * 300,
]


def test_hostile_queries_give_results_or_nothing_never_an_error(client, corpus):
    failures = []
    for q in HOSTILE:
        # A NUL is refused before any view, whatever the field (security.refuse_nul).
        expected = 400 if "\x00" in q else 200
        for url in ("/search", "/api/v1/notices"):
            response = client.get(url, query_string={"q": q, "status": "all"})
            if response.status_code != expected:
                failures.append((url, q[:30], response.status_code))
        body = client.get("/search", query_string={"q": q}).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in body
    assert failures == []
    # Real words still work after all that.
    assert client.get("/api/v1/notices?q=星灿").get_json()["total"] == 1


def test_field_prefixes_never_reveal_unpublished_notices(client, make_notice, corpus):
    pending = make_notice("loss_declaration", status="submitted", declarant="待审核的声明人")
    for q in ("status:submitted", "待审核的声明人", pending.ref, "status:submitted 待审核的声明人"):
        body = client.get("/api/v1/notices", query_string={"q": q, "status": "all"}).get_json()
        assert pending.ref not in {item["ref"] for item in body["items"]}


def test_long_queries_are_cut_not_refused(client, corpus):
    response = client.get("/api/v1/notices", query_string={"q": "星灿" + "字" * 50_000})
    assert response.status_code == 200


def test_words_are_anded(client, corpus):
    both = client.get("/api/v1/notices", query_string={"q": "那曲 安多县"}).get_json()
    assert [item["ref"] for item in both["items"]] == [corpus["nagqu_wage"]]


def test_quoted_phrases_match_exactly(client, corpus):
    assert client.get("/api/v1/notices", query_string={"q": '"路桥工程"'}).get_json()["total"] == 1
    assert client.get("/api/v1/notices", query_string={"q": '"工程路桥"'}).get_json()["total"] == 0


def test_filters_by_type_issuer_and_facets(client, corpus):
    body = client.get("/api/v1/notices", query_string={"q": "西藏"}).get_json()
    assert body["facets"]["wage_clearance"] >= 3 and body["facets"]["supplier_call"] >= 2
    wages = client.get("/api/v1/notices", query_string={"q": "西藏", "type": "wage_clearance"}).get_json()
    assert {i["type"] for i in wages["items"]} == {"wage_clearance"}
    assert wages["facets"] == body["facets"]
    issuer = client.get("/api/v1/notices", query_string={"issuer": "西藏开发投资集团有限公司"}).get_json()
    assert {i["ref"] for i in issuer["items"]} == {corpus["xzkt_supplier"], corpus["xzkt_expert"]}


def test_status_and_date_filters(app, client, make_notice, corpus):
    old = make_notice("wage_clearance", day=date(2025, 5, 1), project_name="旧的防洪堤工程").ref
    revoked = make_notice("wage_clearance", status="revoked", day=date(2026, 7, 1), project_name="撤销的防洪堤工程")
    found = lambda **args: {i["ref"] for i in client.get("/api/v1/notices", query_string={"q": "防洪堤", **args}).get_json()["items"]}  # noqa: E731
    assert found() == set()
    assert found(status="archived") == {old, revoked.ref}
    assert found(status="all", **{"from": "2026-01-01"}) == {revoked.ref}
    assert found(status="all", to="2025-12-31") == {old}
    assert client.get("/api/v1/notices?q=x&from=2025-13-01").status_code == 400


def test_expiry_needs_no_reindexing(app, client, make_notice):
    ref = make_notice("wage_clearance", day=date(2024, 3, 8), project_name="过期的防洪堤工程").ref
    assert client.get("/api/v1/notices?q=防洪堤").get_json()["total"] == 0
    assert [i["ref"] for i in client.get("/api/v1/notices?q=防洪堤&status=archived").get_json()["items"]] == [ref]


def test_sort_by_date(client, make_notice):
    first = make_notice("wage_clearance", day=date(2025, 1, 1), project_name="防洪堤一期").ref
    second = make_notice("wage_clearance", day=date(2025, 6, 1), project_name="防洪堤二期防洪堤").ref
    body = client.get("/api/v1/notices?q=防洪堤&status=all&sort=date").get_json()
    assert [i["ref"] for i in body["items"]] == [second, first]


def test_search_page_highlights_paginates_and_suggests(app, client, make_notice, corpus):
    app.config["PER_PAGE"] = 2
    page = client.get("/search", query_string={"q": "工资"}).get_data(as_text=True)
    assert "<mark>工资</mark>" in page and "找到 5 则公告" in page and "第 1 / 3 页" in page
    make_notice("wage_clearance", day=date(2024, 3, 8), project_name="过期的防洪堤工程")
    none = client.get("/search", query_string={"q": "防洪堤"}).get_data(as_text=True)
    assert "没有找到符合条件的公告" in none and "在全部公告(含已过期、已撤销)中再搜" in none
    wider = none.split("中再搜")[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    assert "找到 1 则公告" in client.get(wider).get_data(as_text=True)
    everywhere = client.get("/search", query_string={"q": "月球", "status": "all"})
    assert "中再搜" not in everywhere.get_data(as_text=True)
    fewer = client.get("/search", query_string={"q": "防洪堤 月球"}).get_data(as_text=True)
    assert "减少关键词" in fewer and "q=%E6%9C%88%E7%90%83" in fewer


def test_highlight_escapes_and_marks():
    marked = search.highlight("<b>民工工资</b>已发放", ["工资"])
    assert str(marked) == "&lt;b&gt;民工<mark>工资</mark>&lt;/b&gt;已发放"
    fragment = search.highlight("甲" * 100 + "工资" + "乙" * 100, ["工资"], width=20)
    assert str(fragment).startswith("…") and "<mark>工资</mark>" in str(fragment)


def test_id_numbers_are_found_whole_but_never_shown(client, corpus):
    body = client.get("/api/v1/notices", query_string={"q": "540102199001011233"}).get_json()
    assert [i["ref"] for i in body["items"]] == [corpus["pema_id"]]
    page = client.get("/search?q=540102199001011233").get_data(as_text=True)
    results = page[page.index('<ol class="results">'):]
    assert "5401*************3" in results and "540102199001011233" not in results


def test_tokenizer_keeps_word_positions_and_tibetan():
    tokens = list(search.words("西藏雪域路桥工程有限公司 བཀྲ་ཤིས་བདེ་ལེགས ABC-12"))
    texts = [t for t, *_ in tokens]
    assert "路桥" in texts and "有限公司" in texts and "公司" in texts
    assert ["བཀྲ", "ཤིས", "བདེ", "ལེགས"] == [t for t in texts if "\u0f00" <= t[0] <= "\u0fff"]
    positions = [p for _, p, *_ in tokens]
    assert positions == sorted(positions) and max(positions) < len(tokens)
    assert ("abc", ) == tuple(t for t in texts if t == "abc")


def test_a_zero_width_space_hides_no_notice_from_search(app, client, make_notice):
    ref = make_notice("supplier_call", day=expiry.board_today(expiry.utcnow()),
                      issuer="西藏\u200b开发投资集团有限公司").ref
    with app.app_context():
        notice = db.session.scalar(db.select(Notice).where(Notice.ref == ref))
        assert notice.fields["issuer"] == "西藏开发投资集团有限公司"
    for q in ("西藏开发", '"西藏开发"', "藏开发", "西藏\u200b开发", '"西藏\u2060开发"', "\u202e西藏开发\u202c"):
        body = client.get("/api/v1/notices", query_string={"q": q}).get_json()
        assert [item["ref"] for item in body["items"]] == [ref], q
    page = client.get("/search", query_string={"q": "西藏\u200b开发"}).get_data(as_text=True)
    assert ref in page and "\u200b" not in page
    by_issuer = client.get("/api/v1/notices", query_string={"issuer": "西藏开发\u200b投资集团有限公司"})
    assert [item["ref"] for item in by_issuer.get_json()["items"]] == [ref]


def test_text_is_analysed_without_invisible_characters():
    # Notices stored before submissions were cleaned are indexed as if they had been.
    for analyse in (search.words, search.grams):
        assert list(analyse("西藏\u200b开发\u00ad投资")) == [
            (token, pos, start, end) for token, pos, start, end in analyse("西藏开发投资")
        ]
    assert search.split_query('西藏\u200b开发 "扎西\u2060央珍"') == (["扎西央珍"], ["西藏开发"])


def test_lost_document_page(client, corpus):
    page = client.get("/lost", query_string={"number": " t540059774 "}).get_data(as_text=True)
    assert "扎西央珍声明巴登曲加的出生医学证明作废" in page
    masked = client.get("/lost", query_string={"number": "540102199001011233"}).get_data(as_text=True)
    assert "5401*************3" in masked and "540102199001011233" not in masked.replace('value="540102199001011233"', "")
    none = client.get("/lost", query_string={"number": "Z999999999"}).get_data(as_text=True)
    assert "没有查到号码为 Z999999999 的遗失声明" in none


def test_revocation_updates_the_index(app, client, corpus, editor):
    with app.app_context():
        notice = db.session.scalar(db.select(Notice).where(Notice.ref == corpus["xingcan_wage"]))
        services.revoke(notice, db.session.merge(editor), "项目名称有误", now=expiry.utcnow())
    assert client.get("/api/v1/notices?q=星灿").get_json()["total"] == 0
    archived = client.get("/api/v1/notices?q=星灿&status=archived").get_json()
    assert archived["items"][0]["status"] == "revoked"


@WHOOSH
def test_check_index_and_reindex(app, runner, corpus):
    assert runner.invoke(args=["check-index"]).exit_code == 0
    with app.app_context():
        for tier in (search.LIVE, search.ARCHIVE):
            writer = search.open_index(tier).writer()
            writer.delete_by_term("ref", corpus["langjie_police"])
            writer.commit()
    result = runner.invoke(args=["check-index"])
    assert result.exit_code == 1 and f"{corpus['langjie_police']}: in the database, missing" in result.output
    rebuilt = runner.invoke(args=["reindex"])
    assert rebuilt.exit_code == 0 and f"Indexed {len(NOTICES)} public notices" in rebuilt.output
    assert runner.invoke(args=["check-index"]).exit_code == 0


@WHOOSH
def test_a_failed_drain_leaves_the_outbox_for_the_next(app, runner, make_notice, tmp_path):
    # The index directory is replaced by a file: the approval still commits, the row waits.
    with app.app_context():
        search.open_index()
    app.config["SEARCH_INDEX_DIR"] = app.extensions["search_index_dir"] = str(tmp_path / "gone")
    (tmp_path / "gone").write_text("not a directory")
    ref = make_notice("loss_declaration").ref
    with app.app_context():
        assert db.session.scalar(db.select(IndexOutbox.ref)) == ref
    app.config["SEARCH_INDEX_DIR"] = app.extensions["search_index_dir"] = str(tmp_path / "index2")
    assert "Indexed 1 waiting changes" in runner.invoke(args=["index-outbox"]).output
    assert runner.invoke(args=["check-index"]).exit_code == 0


def _approve_share(settings, refs, user_id):
    app = create_app(settings)
    with app.app_context():
        user = db.session.get(User, user_id)
        for ref in refs:
            notice = db.session.scalar(db.select(Notice).where(Notice.ref == ref))
            services.approve(notice, user, now=expiry.utcnow())


@WHOOSH
def test_concurrent_approvals_from_several_processes_keep_the_index_whole(app, runner, make_notice, editor, tmp_path):
    today = expiry.board_today(expiry.utcnow())
    refs = [make_notice("loss_declaration", index=i % 6, status="submitted", day=today).ref for i in range(48)]
    with app.app_context():
        user_id = db.session.merge(editor).id
    # The database's URL as it is: a spawned process has no test cluster of its own to ask.
    settings = {name: app.config[name] for name in (
        "TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "SEARCH_INDEX_DIR", "SEARCH_ENGINE",
    )}
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_approve_share, args=(settings, refs[i::4], user_id))
        for i in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    with app.app_context():
        published = db.session.scalar(db.select(db.func.count(Notice.id)).where(Notice.status == "published"))
        waiting = db.session.scalar(db.select(db.func.count(IndexOutbox.id)))
    assert published == 48
    # Every change was indexed by one of the workers: nothing left waiting, nothing missing.
    assert waiting == 0
    result = runner.invoke(args=["check-index"])
    assert result.exit_code == 0, result.output


def test_at_approval_time_the_window_is_indexed(app, make_notice):
    ref = make_notice("loss_declaration", day=date(2026, 7, 10)).ref
    with app.app_context():
        assert search.indexed()[ref] == ("published", 20260809)


@WHOOSH
def test_reindex_settles_the_outbox_it_covers(app, runner, make_notice):
    app.config["SEARCH_INDEX_ON_COMMIT"] = False
    make_notice("loss_declaration")
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(IndexOutbox.id))) == 1
    assert "Indexed 1 public notices" in runner.invoke(args=["reindex"]).output
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(IndexOutbox.id))) == 0
    assert runner.invoke(args=["check-index"]).exit_code == 0


@WHOOSH
def test_outbox_ids_are_never_reused(app, make_notice):
    """A drain deletes what it indexed by id; an emptied outbox must not hand the id out again."""
    make_notice("loss_declaration")  # its outbox row, id 1, is indexed and deleted
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(IndexOutbox.id))) == 0
        row = IndexOutbox(ref="YS-X", created_at=expiry.utcnow())
        db.session.add(row)
        db.session.commit()
        assert row.id == 2


@WHOOSH
def test_a_change_made_while_a_rebuild_waits_for_the_index_is_not_undone(app, make_notice, editor):
    """A rebuild reads the database only once it holds the index: a notice revoked while it
    waited for a busy index is not brought back as published."""
    ref = make_notice("loss_declaration").ref
    with app.app_context():
        busy = search.open_index().writer()  # a worker's drain, half-way
    rebuilt = []

    def rebuild():
        with app.app_context():
            rebuilt.append(search.reindex(board.public_notices()))

    thread = threading.Thread(target=rebuild)
    thread.start()
    time.sleep(0.3)  # the rebuild is waiting for the index lock
    with app.app_context():
        notice = db.session.scalar(db.select(Notice).where(Notice.ref == ref))
        services.revoke(notice, db.session.merge(editor), "提交人申请撤销", now=expiry.utcnow())
        busy.cancel()
        search.drain()  # the revoking worker's own drain, racing the rebuild for the lock
        db.session.remove()
    thread.join()
    with app.app_context():
        search.drain()
        assert rebuilt == [1]
        assert search.check(board.public_state()) == []
        assert search.indexed()[ref][0] == "revoked"


@WHOOSH
def test_a_rebuild_settles_the_outbox_while_others_write(app, make_notice):
    """The rebuild's read snapshot ends before it removes the outbox rows it covered, so a
    commit by another connection meanwhile does not make it fail with 'database is locked'."""
    app.config["SEARCH_INDEX_ON_COMMIT"] = False
    make_notice("loss_declaration")
    make_notice("loss_declaration", index=1)

    def notices_while_a_worker_writes():
        for i, notice in enumerate(board.public_notices()):
            if i == 0:
                with db.engine.begin() as worker:
                    worker.execute(db.text('update "user" set active = active'))
            yield notice

    with app.app_context():
        assert search.reindex(notices_while_a_worker_writes()) == 2
        assert db.session.scalar(db.select(db.func.count(IndexOutbox.id))) == 0
        assert search.check(board.public_state()) == []


@WHOOSH
def test_an_approval_committed_during_a_rebuild_stays_for_the_next_drain(app, make_notice, editor):
    """The rebuild reads one snapshot and then removes the outbox rows it covered, by id: an
    approval committed meanwhile is not in the snapshot, and its row is kept for a drain.

    On PostgreSQL ids come from a sequence in the order transactions draw them, not the
    order they commit; the board's write lock makes the two orders one."""
    app.config["SEARCH_INDEX_ON_COMMIT"] = False
    make_notice("loss_declaration")
    pending = make_notice("loss_declaration", index=1, status="pending")

    def approve():
        with app.app_context():
            notice = db.session.scalar(db.select(Notice).where(Notice.ref == pending.ref))
            services.approve(notice, db.session.merge(editor), now=expiry.utcnow())
            db.session.remove()

    def notices_while_an_editor_approves():
        for i, notice in enumerate(board.public_notices()):
            if i == 0:
                thread = threading.Thread(target=approve)
                thread.start()
                thread.join()
            yield notice

    with app.app_context():
        assert search.reindex(notices_while_an_editor_approves()) == 1
        assert pending.ref not in search.indexed()
        assert db.session.scalar(db.select(db.func.count(IndexOutbox.id))) == 1
        assert search.drain() == 1
        assert pending.ref in search.indexed()
        assert search.check(board.public_state()) == []


@WHOOSH
def test_a_held_index_is_left_to_its_holder(app, make_notice):
    """A bulk change holds the index from start to end; other processes' drains leave the
    outbox to it, and its own drain and rebuild use the lock it holds."""
    ref = make_notice("loss_declaration").ref
    with app.app_context():
        with search.held():
            # What another process's drain (a web request's, the indexer's) meets.
            lock = search.open_index().lock("WRITELOCK")
            assert not lock.acquire()
            with pytest.raises(LockError):
                search.open_index().writer(timeout=0)
            db.session.add(IndexOutbox(ref="YS-X", created_at=expiry.utcnow()))
            db.session.commit()
            assert search.drain() == 1
            # The rebuild's writer processes are given the lock too: the index is whole.
            assert search.reindex(board.public_notices()) == 1
            assert search.check(board.public_state()) == []
            assert list(search.indexed()) == [ref]
        assert lock.acquire()
        lock.release()
