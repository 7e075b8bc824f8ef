"""The PostgreSQL search engine's own workings: rows written with the change, read by every
server at once. The contract both engines keep (labelled queries, hostile input, filters,
facets) is tested in test_search.py, which the PostgreSQL run sends through this engine."""
from datetime import date
from datetime import timedelta

import pytest
from conftest import ON_POSTGRESQL
from conftest import config

from notices import board
from notices import create_app
from notices import expiry
from notices import search
from notices import services
from notices.extensions import db
from notices.models import IndexOutbox
from notices.models import Notice
from notices.models import SearchDocument

on_postgresql = pytest.mark.skipif(
    not ON_POSTGRESQL, reason="the engine searches a PostgreSQL database (BOARD_TEST_DATABASE)"
)


def found(client, q, **args):
    body = client.get("/api/v1/notices", query_string={"q": q, **args}).get_json()
    return [item["ref"] for item in body["items"]]


def test_the_engine_follows_the_database_unless_told(tmp_path, monkeypatch):
    settings = config(tmp_path, tmp_path / "choice.db")
    assert create_app(settings).config["SEARCH_ENGINE"] == ("postgresql" if ON_POSTGRESQL else "whoosh")
    assert create_app({**settings, "SEARCH_ENGINE": "whoosh"}).config["SEARCH_ENGINE"] == "whoosh"
    monkeypatch.setenv("FLASK_SEARCH_ENGINE", "whoosh")
    del settings["SEARCH_ENGINE"]
    assert create_app(settings).config["SEARCH_ENGINE"] == "whoosh"
    with pytest.raises(RuntimeError, match="must be one of whoosh, postgresql"):
        create_app({**settings, "SEARCH_ENGINE": "elastic"})


def test_the_engine_refuses_sqlite_at_startup(tmp_path):
    settings = {**config(tmp_path, tmp_path / "x.db"), "SEARCH_ENGINE": "postgresql",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"}
    with pytest.raises(RuntimeError, match="FLASK_SEARCH_ENGINE=whoosh, or use PostgreSQL"):
        create_app(settings)


@on_postgresql
def test_an_approval_is_searchable_at_once_without_a_drain(app, client, make_notice):
    app.config["SEARCH_INDEX_ON_COMMIT"] = False
    today = expiry.board_today(expiry.utcnow())
    ref = make_notice("wage_clearance", day=today, project_name="卡如温泉修缮工程").ref
    assert found(client, "卡如温泉") == [ref]
    with app.app_context():
        # Nothing waits in the outbox: the row was written with the approval.
        assert db.session.scalar(db.select(db.func.count(IndexOutbox.id))) == 0
        assert db.session.get(SearchDocument, ref).status == "published"


@on_postgresql
def test_a_submitted_notice_has_no_row(app, make_notice):
    pending = make_notice("wage_clearance", status="submitted", project_name="未审核的工程")
    with app.app_context():
        assert db.session.get(SearchDocument, pending.ref) is None


@on_postgresql
def test_a_revocation_is_reflected_at_once(app, client, make_notice, editor):
    today = expiry.board_today(expiry.utcnow())
    ref = make_notice("wage_clearance", day=today, project_name="卡如温泉修缮工程").ref
    with app.app_context():
        notice = db.session.scalar(db.select(Notice).where(Notice.ref == ref))
        services.revoke(notice, db.session.merge(editor), "项目名称有误", now=expiry.utcnow())
    assert found(client, "卡如温泉") == []
    assert found(client, "卡如温泉", status="archived") == [ref]


@on_postgresql
def test_expiry_is_read_from_the_window_and_moves_nothing(app, client, runner, make_notice):
    ref = make_notice("wage_clearance", day=date(2024, 3, 8), project_name="卡如温泉修缮工程").ref
    assert found(client, "卡如温泉") == []
    assert found(client, "卡如温泉", status="archived") == [ref]
    result = runner.invoke(args=["expire"])
    assert "Moved 0 notices" in result.output
    assert found(client, "卡如温泉", status="archived") == [ref]


@on_postgresql
def test_a_phrase_is_exact_and_words_typed_together_are_not(client, make_notice):
    today = expiry.board_today(expiry.utcnow())
    ref = make_notice("wage_clearance", day=today, project_name="林芝路桥工程").ref
    assert found(client, '"路桥工程"') == [ref]
    assert found(client, '"工程路桥"') == []
    # Typed without a space, the jieba words need only each appear.
    assert found(client, "工程路桥") == [ref]
    # A substring made of two bigrams that appear apart is no match.
    assert found(client, "桥林") == []


@on_postgresql
def test_document_numbers_are_found_whole_only(client, make_notice):
    item = {"owner_name": "", "document_type": "id_card", "document_number": "540102199001011233"}
    ref = make_notice("loss_declaration", day=expiry.board_today(expiry.utcnow()), items=[item]).ref
    assert found(client, "540102199001011233") == [ref]
    assert found(client, "5401 0219 9001 0112 33") == [ref]
    # The page masks the number, so a part of it finds nothing.
    assert found(client, "199001011233") == []


@on_postgresql
def test_a_match_in_the_title_ranks_above_a_newer_match_in_the_text(client, make_notice):
    today = expiry.board_today(expiry.utcnow())
    titled = make_notice("wage_clearance", day=today - timedelta(days=3),
                         contractor="珠峰建设有限公司", project_name="普通道路工程").ref
    newer = make_notice("wage_clearance", day=today,
                        contractor="拉萨普通建设有限公司", project_name="珠峰大道工程").ref
    assert found(client, "珠峰") == [titled, newer]
    assert found(client, "珠峰", sort="date") == [newer, titled]


@on_postgresql
def test_check_index_finds_missing_stale_and_extra_rows_and_reindex_mends_them(app, runner, make_notice):
    today = expiry.board_today(expiry.utcnow())
    kept = make_notice("wage_clearance", day=today, project_name="卡如温泉修缮工程").ref
    lost = make_notice("loss_declaration", day=today).ref
    assert runner.invoke(args=["check-index"]).exit_code == 0
    with app.app_context():
        db.session.execute(db.delete(SearchDocument).where(SearchDocument.ref == lost))
        db.session.execute(db.update(SearchDocument).where(SearchDocument.ref == kept).values(
            status="revoked", text_version=1,
        ))
        db.session.commit()
    result = runner.invoke(args=["check-index"])
    assert result.exit_code == 1
    assert f"{lost}: in the database, missing from the index" in result.output
    assert f"{kept}: index has ('revoked'" in result.output
    assert "1 rows hold public text of an older version" in result.output
    rebuilt = runner.invoke(args=["reindex"])
    assert rebuilt.exit_code == 0 and "Indexed 2 public notices" in rebuilt.output
    assert runner.invoke(args=["check-index"]).exit_code == 0


@on_postgresql
def test_init_db_builds_the_rows_of_a_board_that_searched_with_whoosh(app, runner, make_notice):
    ref = make_notice("loss_declaration", day=expiry.board_today(expiry.utcnow())).ref
    with app.app_context():
        db.session.execute(db.delete(SearchDocument))
        db.session.commit()
        assert search.text_version() == 0
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0 and "rebuilding it" in result.output, result.output
    with app.app_context():
        assert list(search.indexed()) == [ref]
        assert search.check(board.public_state()) == []


@on_postgresql
def test_a_rebuild_keeps_a_revocation_made_after_its_snapshot(app, make_notice, editor):
    ref = make_notice("loss_declaration", day=expiry.board_today(expiry.utcnow())).ref

    def notices_while_an_editor_revokes():
        for notice in board.public_notices():
            # The rebuild read the notice as published; an editor revokes it now.
            with app.app_context():
                current = db.session.scalar(db.select(Notice).where(Notice.ref == ref))
                services.revoke(current, db.session.merge(editor), "提交人申请撤销", now=expiry.utcnow())
                db.session.remove()
            yield notice

    with app.app_context():
        assert search.reindex(notices_while_an_editor_revokes()) == 1
        assert search.indexed()[ref][0] == "revoked"
        assert search.check(board.public_state()) == []


@on_postgresql
def test_punctuation_and_quotes_reach_the_database_as_data(client, make_notice):
    today = expiry.board_today(expiry.utcnow())
    ref = make_notice("wage_clearance", day=today, project_name="卡如温泉修缮工程").ref
    for q in ("卡如温泉 '", "卡如温泉 \\", "卡如温泉 ':*", "卡如温泉 & | ! <->", "卡如温泉 ');--"):
        assert found(client, q) == [ref], q
