"""The index's two tiers: live (open windows) and archive, and each process's searchers.

The default search reads only the live tier; a notice leaves it when revoked (the drain) or
when `flask expire` runs after its window ended. Between midnight and that run the live tier's
filter keeps it out of the default search and the archived search still finds it.
"""
import multiprocessing
from datetime import datetime
from datetime import time
from datetime import timedelta

import pytest
import time_machine

from notices import create_app
from notices import expiry
from notices import search
from notices import services
from notices.extensions import db
from notices.models import Notice
from notices.models import User

# The tiers are the Whoosh index's: its tests run with Whoosh on either database.
pytestmark = pytest.mark.search_engine("whoosh")

# Published some days ago, so that the notice is live when indexed now and its window ends
# a few days ahead, where the tests travel.
PUBLISHED = expiry.board_today(expiry.utcnow()) - timedelta(days=25)
WINDOW_END = PUBLISHED + timedelta(days=30)


def tier_refs(app, tier):
    with app.app_context(), search.open_index(tier).searcher() as searcher:
        return {fields["ref"] for fields in searcher.all_stored_fields()}


def found(client, q, status="active"):
    body = client.get("/api/v1/notices", query_string={"q": q, "status": status}).get_json()
    return [item["ref"] for item in body["items"]]


def shanghai(day, hour, minute=0, second=0):
    return datetime.combine(day, time(hour, minute, second), expiry.BOARD_TZ)


def test_a_notice_leaves_the_default_search_at_midnight_and_the_live_tier_on_expire(
        app, client, runner, make_notice):
    ref = make_notice("loss_declaration", day=PUBLISHED).ref
    assert ref in tier_refs(app, search.LIVE) and ref not in tier_refs(app, search.ARCHIVE)
    with time_machine.travel(shanghai(WINDOW_END, 23, 59, 59), tick=False):
        assert found(client, "扎西央珍") == [ref]
        assert found(client, "扎西央珍", "archived") == []
    with time_machine.travel(shanghai(WINDOW_END + timedelta(days=1), 0, 0, 1), tick=False):
        # Midnight has passed and `flask expire` has not run yet: nothing is missed.
        assert ref in tier_refs(app, search.LIVE)
        assert found(client, "扎西央珍") == []
        assert found(client, "扎西央珍", "archived") == [ref]
        assert found(client, "扎西央珍", "all") == [ref]
        result = runner.invoke(args=["expire"])
        assert result.exit_code == 0, result.output
        assert "Moved 1 notices from the live search tier to the archive" in result.output
        assert ref in tier_refs(app, search.ARCHIVE) and ref not in tier_refs(app, search.LIVE)
        assert found(client, "扎西央珍") == []
        assert found(client, "扎西央珍", "archived") == [ref]
        assert runner.invoke(args=["check-index"]).exit_code == 0
        # Run again, nothing moves.
        assert "Moved 0 notices" in runner.invoke(args=["expire"]).output


def test_expire_moves_only_what_has_ended(app, runner, make_notice):
    ending = make_notice("loss_declaration", day=PUBLISHED).ref
    later = make_notice("wage_clearance", day=PUBLISHED + timedelta(days=1)).ref
    result = runner.invoke(args=["expire", "--today", (WINDOW_END + timedelta(days=1)).isoformat()])
    assert result.exit_code == 0, result.output
    assert tier_refs(app, search.LIVE) == {later}
    assert tier_refs(app, search.ARCHIVE) == {ending}


def test_a_revoked_notice_moves_to_the_archive_tier(app, client, make_notice, editor):
    today = expiry.board_today(expiry.utcnow())
    ref = make_notice("wage_clearance", day=today).ref
    assert found(client, "卡如温泉") == [ref]
    with app.app_context():
        notice = db.session.scalar(db.select(Notice).where(Notice.ref == ref))
        services.revoke(notice, db.session.merge(editor), "项目名称有误", now=expiry.utcnow())
    assert tier_refs(app, search.LIVE) == set() and tier_refs(app, search.ARCHIVE) == {ref}
    assert found(client, "卡如温泉") == []
    assert found(client, "卡如温泉", "archived") == [ref]


def test_check_index_finds_a_notice_in_both_tiers(app, runner, make_notice):
    ref = make_notice("loss_declaration", day=expiry.board_today(expiry.utcnow())).ref
    with app.app_context():
        writer = search.open_index(search.ARCHIVE).writer()
        writer.add_document(ref=ref, kind="loss_declaration", status="published", issuer="x",
                            published_on=20260101, window_end=20260131, title="x", words="x",
                            grams="x")
        writer.commit()
    result = runner.invoke(args=["check-index"])
    assert result.exit_code == 1 and f"{ref}: in both the live and the archive tier" in result.output
    assert runner.invoke(args=["reindex"]).exit_code == 0
    assert runner.invoke(args=["check-index"]).exit_code == 0


def _approve_elsewhere(settings, ref, user_id):
    """Another worker: approve ``ref`` and index it, in a process of its own."""
    app = create_app(settings)
    with app.app_context():
        notice = db.session.scalar(db.select(Notice).where(Notice.ref == ref))
        services.approve(notice, db.session.get(User, user_id), now=expiry.utcnow())


def test_a_kept_searcher_sees_what_another_process_committed(app, client, make_notice, editor,
                                                            tmp_path):
    today = expiry.board_today(expiry.utcnow())
    shown = make_notice("loss_declaration", day=today).ref
    waiting = make_notice("wage_clearance", day=today, status="submitted").ref
    # This process searches, and keeps its searchers.
    assert found(client, "扎西央珍") == [shown]
    assert found(client, "卡如温泉") == []
    with app.app_context():
        user_id = db.session.merge(editor).id
    # The database's URL as it is: a spawned process has no test cluster of its own to ask.
    settings = {name: app.config[name] for name in (
        "TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "SEARCH_INDEX_DIR", "SEARCH_ENGINE",
    )}
    process = multiprocessing.get_context("spawn").Process(
        target=_approve_elsewhere, args=(settings, waiting, user_id)
    )
    process.start()
    process.join(timeout=120)
    assert process.exitcode == 0
    # The next search here reopens the changed tier and finds it; filters made for the old
    # searcher (the day's open windows) are not reused for the new one.
    assert found(client, "卡如温泉") == [waiting]
    assert found(client, "扎西央珍") == [shown]
    assert found(client, "卡如温泉", "all") == [waiting]


def test_searchers_are_kept_between_searches_until_the_index_changes(app, client, make_notice):
    from notices.search import engine

    make_notice("loss_declaration", day=expiry.board_today(expiry.utcnow()))
    found(client, "扎西央珍")
    with app.app_context():
        first = engine._readers()
        assert engine._readers() is first and engine._readers().live is first.live
    make_notice("wage_clearance", day=expiry.board_today(expiry.utcnow()))
    with app.app_context():
        assert engine._readers().live is not None
        assert found(client, "卡如温泉")


def test_a_search_that_a_rebuild_overtakes_is_run_again_on_the_new_index(app, make_notice):
    """Another process's rebuild commits during a search: the old segments' files are gone
    before the kept searcher has opened them all. The search runs again, on the new index."""
    from notices import board
    from notices.search import engine

    today = expiry.board_today(expiry.utcnow())
    ref = make_notice("loss_declaration", day=today).ref
    attempts = []

    def overtaken(readers):
        attempts.append(readers.live)
        if len(attempts) == 1:
            # What another process does in the middle of this search.
            search.reindex(board.public_notices())
        return [readers.live.stored_fields(docnum)["ref"]
                for docnum in readers.live.docs_for_query(engine.Q.Every())]

    with app.app_context():
        # Searchers just opened, that have read no stored fields yet.
        engine.forget_readers()
        assert engine._using_readers(overtaken) == [ref]
    assert len(attempts) == 2 and attempts[0] is not attempts[1]


def test_a_search_that_fails_on_an_unchanged_index_fails(app, make_notice):
    from notices.search import engine

    make_notice("loss_declaration", day=expiry.board_today(expiry.utcnow()))
    calls = []

    def broken(readers):
        calls.append(1)
        raise KeyError("a bug, not a rebuild")

    with app.app_context():
        try:
            engine._using_readers(broken)
        except KeyError:
            pass
        else:
            raise AssertionError("the failure was hidden")
    assert calls == [1]
