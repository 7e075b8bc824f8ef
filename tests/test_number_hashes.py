"""Full document numbers are kept only until a decision; from then on a keyed hash and the
public form remain, and everything that matches a number matches the hash.

"Nowhere" is checked in the raw bytes: the SQLite file and its WAL (PostgreSQL: every
table's rows as text, and its tables' files after VACUUM), the search index's files, and
every log record written meanwhile.
Each check also finds what it should (the full number while a notice waits, the hash once
indexed), so that a check reading the wrong place cannot pass by finding nothing.
"""
import contextlib
import json
import logging
import os
import re
import threading
import urllib.request
from datetime import date

import conftest
import pytest
import sqlalchemy as sa
from conftest import ON_POSTGRESQL
from conftest import at
from conftest import config
from conftest import seed_data
from test_editor import login
from test_migrations import downgrade
from test_migrations import tables
from test_migrations import upgrade
from werkzeug.serving import make_server

from notices import board
from notices import create_app
from notices import documents
from notices import kinds
from notices import logs
from notices import review
from notices import search
from notices import services
from notices.alerts import subscriptions
from notices.extensions import db
from notices.models import LossItem
from notices.models import MailOutbox
from notices.models import Notice

DAY = date(2024, 3, 8)
LOSS = kinds.get("loss_declaration")


def id_number(first17):
    return first17 + documents.id_card_check_char(first17)


def credit_code(first17):
    return first17 + documents.uscc_check_char(first17)


# An ID number, the holder's number typed again into a name, and a credit code.
ID_NUMBER = id_number("54010219900101123")
OTHER_ID = id_number("54012119851231004")
CREDIT_CODE = credit_code("91540000MA6T1234X")


def loss_data(number=ID_NUMBER, document_type="id_card", **changes):
    data = seed_data("loss_declaration")
    data["declarant"] = f"扎西 {OTHER_ID}"
    data["items"] = [
        {"owner_name": f"巴登 {OTHER_ID}", "document_type": document_type, "document_number": number},
        {"owner_name": "拉萨某某有限公司", "document_type": "business_license",
         "document_number": CREDIT_CODE},
    ]
    data["submitter_name"] = f"扎西 {OTHER_ID}"
    # Mailed a receipt and the decision: their bodies wait in the mail outbox.
    data["submitter_email"] = "zhaxi@example.cn"
    data.update(changes)
    return data


def submit(app, data=None, day=DAY):
    with app.app_context():
        notice, _token = services.submit(LOSS, services.flatten(data or loss_data()), now=at(day, 8))
        return notice.ref


def notice_of(ref):
    return db.session.scalar(db.select(Notice).where(Notice.ref == ref))


def decide(app, editor, ref, action, day=DAY):
    with app.app_context():
        notice, user = notice_of(ref), db.session.merge(editor)
        if action in ("approve", "revoke"):
            services.approve(notice, user, now=at(day, 9))
        if action == "revoke":
            services.revoke(notice, user, f"持有人 {ID_NUMBER} 申请撤销", now=at(day, 10))
        if action == "reject":
            services.reject(notice, user, f"证件 {ID_NUMBER} 材料不全", now=at(day, 10))
        if action == "withdraw":
            services.withdraw(notice, now=at(day, 10))
        search.drain()


@contextlib.contextmanager
def serving(app):
    """Serve ``app`` over HTTP on a free local port; yield its address."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()


def database_bytes(app):
    """Return what the database holds, as bytes: on SQLite the file and its WAL after a
    checkpoint; on PostgreSQL every table's rows as text."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            # The WAL keeps the pages transactions wrote until a checkpoint copies them into
            # the file and later writes go over them; SQLite checkpoints by itself every 1,000
            # pages, and removes the WAL when its last connection closes. Checkpointed and
            # truncated here as that close would, then both files are read whole (the WAL
            # too, whatever is left in it).
            # Outside any transaction, as SQLite checkpoints: on a raw connection.
            raw = db.engine.raw_connection()
            try:
                busy, _, _ = raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                assert busy == 0
            finally:
                raw.close()
            path = db.engine.url.database
            return b"".join(read(name) for name in (path, path + "-wal") if os.path.exists(name))
        with db.engine.connect() as connection:
            return "\n".join(
                row for name in tables(connection)
                for row in connection.exec_driver_sql(f'SELECT t::text FROM "{name}" t').scalars()
            ).encode()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def index_bytes(app):
    """Return every file of the Whoosh index folder, as bytes."""
    return b"".join(
        read(os.path.join(folder, name))
        for folder, _dirs, names in os.walk(app.config["SEARCH_INDEX_DIR"]) for name in names
    )


def search_bytes(app):
    """Return what the search holds: the Whoosh files, and on PostgreSQL its table too."""
    return index_bytes(app) + database_bytes(app)


def full_numbers():
    return [n.encode("ascii") for n in (ID_NUMBER, OTHER_ID, CREDIT_CODE)]


def hash_of(app, number):
    with app.app_context():
        return documents.number_hash(number)


@pytest.mark.parametrize("action", ["approve", "reject", "withdraw", "revoke"])
def test_after_each_decision_no_full_number_remains(app, client, editor, action, caplog):
    caplog.set_level(logging.DEBUG)
    ref = submit(app)
    # Waiting: the editor reviews the full number, and the database holds it.
    login(client)
    page = client.get(f"/editor/notices/{ref}").text
    assert ID_NUMBER in page and CREDIT_CODE in page and "号码完整显示" in page
    assert ID_NUMBER.encode() in database_bytes(app)

    decide(app, editor, ref, action)

    with app.app_context():
        # The receipt and the mail of the decision, waiting to be sent: checked with the rest.
        assert db.session.scalar(db.select(db.func.count(MailOutbox.id))) >= 2
    stored = database_bytes(app)
    for number in full_numbers():
        assert number not in stored
        assert number not in index_bytes(app)
    assert hash_of(app, ID_NUMBER).encode() in stored
    if action in ("approve", "revoke"):
        # The index holds the hash, readable as it is: a full number would have been found.
        assert hash_of(app, ID_NUMBER).encode() in search_bytes(app)
    # Logs: each lookup served over HTTP by the development server, whose request lines the
    # board's log filter sees as gunicorn's access log does, and every record logged
    # meanwhile; the access log's own line, as gunicorn's logger writes it.
    paths = (f"/lost?number={ID_NUMBER}", f"/search?q={ID_NUMBER}",
             f"/api/v1/lost-documents?number={ID_NUMBER}", f"/api/v1/notices?q={ID_NUMBER}")
    with serving(app) as base:
        for path in paths:
            with urllib.request.urlopen(base + path) as answer:
                assert answer.status == 200
    for path in paths:
        assert path.split("=")[0] + "=" in caplog.text
        assert ID_NUMBER not in logs.redact(f'"GET {path} HTTP/1.1" 200')
    assert not [n for n in (ID_NUMBER, OTHER_ID, CREDIT_CODE) if n in caplog.text]
    # The decided notice's review page shows the masked forms.
    page = client.get(f"/editor/notices/{ref}").text
    assert ID_NUMBER not in page and OTHER_ID not in page and CREDIT_CODE not in page
    assert "号码完整显示" not in page and "号码只保留公开显示的部分" in page
    assert documents.mask_number("id_card", ID_NUMBER) in page
    assert documents.mask_number("business_license", CREDIT_CODE) in page


@pytest.mark.parametrize("typed", [ID_NUMBER, f" {ID_NUMBER[:6]} {ID_NUMBER[6:14]} {ID_NUMBER[14:]} ",
                                   ID_NUMBER.translate(str.maketrans("0123456789", "０１２３４５６７８９"))])
def test_a_declared_number_is_found_by_every_lookup(app, client, editor, typed):
    ref = submit(app)
    decide(app, editor, ref, "approve")
    masked = documents.mask_number("id_card", ID_NUMBER)

    page = client.get("/lost", query_string={"number": typed}).text
    # The form keeps what the person typed; the answer shows only the masked number.
    assert ref in page and masked in page and page.count(ID_NUMBER) <= 1
    found = client.get("/api/v1/lost-documents", query_string={"number": typed}).json["items"]
    assert [(item["ref"], item["document_number"]) for item in found] == [(ref, masked)]
    assert ref in client.get("/search", query_string={"q": typed, "status": "all"}).text
    listed = client.get("/api/v1/notices", query_string={"q": typed, "status": "all"}).json
    assert ref in json.dumps(listed)
    # The credit code is found the same way, and a number never declared is not.
    found = client.get("/api/v1/lost-documents", query_string={"number": CREDIT_CODE}).json["items"]
    assert [item["ref"] for item in found] == [ref]
    other = id_number("54010219900101124")
    assert client.get("/api/v1/lost-documents", query_string={"number": other}).json["items"] == []
    assert ref not in client.get("/search", query_string={"q": other, "status": "all"}).text


@pytest.mark.parametrize("document_type,number", [
    ("birth_certificate", "T540059774"), ("police_id", "397403"), ("other", "DL-2024-0088"),
])
def test_every_type_keeps_its_hash_and_its_public_form(app, client, editor, document_type, number):
    data = loss_data(number, document_type)
    data["items"][0]["document_type_other"] = "道路运输证"
    ref = submit(app, data)
    decide(app, editor, ref, "approve")
    with app.app_context():
        item = notice_of(ref).items[0]
        assert item.number_hash == documents.number_hash(number)
        # What pages show of these, as they did before: the number is its public form.
        assert item.document_number == documents.mask_number(document_type, number)
    found = client.get("/api/v1/lost-documents", query_string={"number": number}).json["items"]
    assert [item["ref"] for item in found] == [ref]


def test_the_masked_display_is_unchanged(app, client, editor):
    ref = submit(app)
    with app.app_context():
        # The wording as it would be published today, before any sealing.
        expected = board.draft_text(notice_of(ref), DAY).plain()
    decide(app, editor, ref, "approve")
    with app.app_context():
        shown = board.show(notice_of(ref), DAY)
        assert shown.text.plain() == expected
    page = client.get(f"/notices/{ref}").text
    for line in expected.splitlines():
        assert line in page
    api = client.get(f"/api/v1/notices/{ref}").json
    assert documents.mask_number("id_card", ID_NUMBER) in json.dumps(api, ensure_ascii=False)
    assert ID_NUMBER not in json.dumps(api)


def test_the_duplicate_warning_compares_hashes(app, client, editor):
    first = submit(app)
    decide(app, editor, first, "approve")
    # Declared again, typed in groups: the pending one's full number hashed.
    again = loss_data(f"{ID_NUMBER[:6]} {ID_NUMBER[6:]}")
    again["items"] = again["items"][:1]
    second = submit(app, again, day=date(2024, 3, 9))
    with app.app_context():
        [concern] = review.warnings(notice_of(second), date(2024, 3, 9))
        assert concern.flag == review.DECLARED_BEFORE
        assert first in concern.text and ID_NUMBER in concern.text
    login(client)
    assert review.DECLARED_BEFORE in client.get("/editor/").text
    # Once decided, the warning names the masked number.
    decide(app, editor, second, "approve", day=date(2024, 3, 9))
    with app.app_context():
        [concern] = review.warnings(notice_of(second), date(2024, 3, 9))
        assert ID_NUMBER not in concern.text
        assert documents.mask_number("id_card", ID_NUMBER) in concern.text
    # Another number warns of nothing.
    third = submit(app, loss_data(OTHER_ID), day=date(2024, 3, 9))
    with app.app_context():
        concerns = review.warnings(notice_of(third), date(2024, 3, 9))
        assert [c for c in concerns if ID_NUMBER[:4] in c.text and first in c.text] == []


def test_a_number_watch_fires_on_the_hash(app, editor):
    with app.app_context():
        watch = subscriptions.subscribe("zhuoma@example.cn", now=at(DAY, 7), number=f" {ID_NUMBER.lower()} ")
        subscriptions.confirm(watch, now=at(DAY, 7))
        watch_id = watch.id
    other = submit(app, loss_data(OTHER_ID))
    decide(app, editor, other, "approve")
    ref = submit(app)
    decide(app, editor, ref, "approve")
    with app.app_context():
        alerts = db.session.scalars(db.select(MailOutbox).where(MailOutbox.kind.like("alert%"),
                                                                MailOutbox.kind != "alert-confirm")).all()
        assert len(alerts) == 1 and ref in alerts[0].body and other not in alerts[0].body
        assert ID_NUMBER not in alerts[0].body
        assert db.session.get(subscriptions.AlertSubscription, watch_id).number_hash == (
            documents.number_hash(ID_NUMBER)
        )


def test_an_import_stores_hashes_at_once(app, client, runner, tmp_path):
    line = {"type": "loss_declaration", **loss_data(), "published_at": at(DAY, 8).isoformat(),
            "revoked_at": at(DAY, 12).isoformat(), "reason": f"持有人 {ID_NUMBER} 申请撤销"}
    path = tmp_path / "notices.jsonl"
    path.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    result = runner.invoke(args=["import-notices", str(path)])
    assert result.exit_code == 0, result.output
    stored = database_bytes(app)
    for number in full_numbers():
        assert number not in stored
        assert number not in index_bytes(app)
    assert hash_of(app, ID_NUMBER).encode() in stored
    found = client.get("/api/v1/lost-documents", query_string={"number": ID_NUMBER}).json["items"]
    assert len(found) == 1 and found[0]["document_number"] == documents.mask_number("id_card", ID_NUMBER)


def test_init_db_refuses_a_changed_key(app, tmp_path):
    # The app fixture's own database and index, with another secret.
    changed = dict(config(tmp_path, tmp_path / "t.db"), SECRET_KEY="rotated")
    rotated = create_app(changed)
    result = rotated.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 1 and "FLASK_NUMBER_HASH_KEY" in result.output
    # The old secret kept for the numbers: the hashes match again.
    kept = create_app(dict(changed, NUMBER_HASH_KEY="test"))
    result = kept.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    with kept.app_context(), app.app_context():
        assert documents.number_key_fingerprint() == documents.number_key_fingerprint()
    for made in (rotated, kept):
        with made.app_context():
            db.engine.dispose()


# --- the migration ------------------------------------------------------------------------

BEFORE = "b7e4d2a91c3f"
AFTER = "e4d8f3e0a504"


def _insert_old_rows(app):
    """Two notices as a board before the migration holds them: one published, one waiting."""
    with app.app_context(), db.engine.begin() as connection:
        t = tables(connection)
        when = at(DAY, 9)
        for id_, status, number in ((1, "published", ID_NUMBER), (2, "submitted", OTHER_ID)):
            connection.execute(t["notice"].insert(), [{
                "id": id_, "ref": f"YS-20240308-0000{id_}", "kind": "loss_declaration",
                "status": status, "fields": {"declarant": f"扎西 {OTHER_ID}"},
                "submitter_name": "扎西", "submitter_phone": "13800138000",
                "tracking_hash": str(id_) * 64, "submitted_at": when,
                "published_at": when if status == "published" else None,
                "published_on": DAY if status == "published" else None,
                "window_start": DAY, "window_end": date(2024, 4, 7),
            }])
            connection.execute(t["loss_item"].insert(), [{
                "notice_id": id_, "position": 0, "owner_name": "巴登", "document_type": "id_card",
                "document_number": number,
            }])
        connection.execute(t["search_document"].insert(), [{
            "ref": "YS-20240308-00001", "kind": "loss_declaration", "status": "published",
            "issuer": "扎西", "published_on": DAY, "window_end": date(2024, 4, 7), "text_version": 3,
            "public_text": "遗失声明", "document": f"'{ID_NUMBER}':1A",
        }])


@pytest.fixture
def old_board(request, tmp_path):
    engine = conftest.search_engine(request)
    app = create_app(config(tmp_path, tmp_path / "old.db", engine))
    yield app
    with app.app_context():
        db.engine.dispose()
    if ON_POSTGRESQL:
        conftest._cluster.drop(conftest._database_name(tmp_path / "old.db"))


def test_the_migration_hashes_and_seals_existing_rows(old_board, tmp_path):
    app = old_board
    upgrade(app, BEFORE)
    _insert_old_rows(app)
    assert ID_NUMBER.encode() in database_bytes(app)

    # Read through the models, which know the later migrations' columns too: up to the head,
    # past this migration (the later ones leave loss items' numbers as they are).
    upgrade(app, "head")
    with app.app_context():
        published, waiting = (notice_of(f"YS-20240308-0000{i}") for i in (1, 2))
        assert published.items[0].document_number == documents.mask_number("id_card", ID_NUMBER)
        assert published.items[0].number_hash == documents.number_hash(ID_NUMBER)
        assert published.fields["declarant"] == documents.mask_id_numbers(f"扎西 {OTHER_ID}")
        # The one waiting keeps its number for the editor, and its hash already.
        assert waiting.items[0].document_number == OTHER_ID
        assert waiting.items[0].number_hash == documents.number_hash(OTHER_ID)
        assert [d.notice.ref for d in board.lost_documents(ID_NUMBER, DAY)] == [published.ref]
        assert db.session.scalar(sa.text("SELECT count(*) FROM search_document")) == 0
    assert ID_NUMBER.encode() not in database_bytes(app)

    # init-db, run on every upgrade, makes the search find the number again, by its hash:
    # here PostgreSQL's rows (the Whoosh index has a test of its own below).
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert ID_NUMBER.encode() not in search_bytes(app)
    if ON_POSTGRESQL:
        with app.app_context():
            vector = db.session.scalar(sa.text("SELECT document::text FROM search_document"))
            assert documents.number_hash(ID_NUMBER) in vector
    with app.test_client() as client:
        if not ON_POSTGRESQL:
            assert client.application.test_cli_runner().invoke(args=["reindex"]).exit_code == 0
        found = client.get("/search", query_string={"q": ID_NUMBER, "status": "all"}).text
        assert "YS-20240308-00001" in found

    # Down and up again: the sealed number stays sealed, the hashes come back.
    downgrade(app, BEFORE)
    upgrade(app, "head")
    with app.app_context():
        assert db.session.scalar(
            db.select(LossItem.number_hash).where(LossItem.notice_id == 1)
        ) == documents.number_hash(ID_NUMBER)


@pytest.mark.search_engine("whoosh")
def test_init_db_rebuilds_an_index_that_held_full_numbers(old_board, tmp_path):
    app = old_board
    upgrade(app, BEFORE)
    _insert_old_rows(app)
    # An index of the older version, as the board kept it before: full numbers in its terms.
    with app.app_context():
        search.create_index()
        writer = search.open_index(search.ARCHIVE).writer()
        writer.add_document(ref="YS-20240308-00001", kind="loss_declaration", status="published",
                            issuer="扎西", published_on=20240308, window_end=20240407,
                            title="遗失声明", words="遗失声明", grams="遗失声明", numbers=ID_NUMBER)
        writer.commit()
        path = os.path.join(app.config["SEARCH_INDEX_DIR"], "board-text-version")
        with open(path, "w") as f:
            f.write("3")
    assert ID_NUMBER.encode() in index_bytes(app)
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert ID_NUMBER.encode() not in search_bytes(app)
    assert hash_of(app, ID_NUMBER).encode() in search_bytes(app)
    with app.test_client() as client:
        found = client.get("/search", query_string={"q": ID_NUMBER, "status": "all"}).text
        assert "YS-20240308-00001" in found



def test_a_rejected_declaration_resubmitted_asks_for_its_sealed_numbers_again(app, client, editor):
    with app.app_context():
        notice, token = services.submit(LOSS, services.flatten(loss_data()), now=at(DAY, 8))
        ref = notice.ref
    decide(app, editor, ref, "reject")
    page = client.get(f"/track/{token}/resubmit").text
    assert value_of(page, "items-0-document_number") == ""
    assert value_of(page, "items-1-document_number") == ""
    for number in (ID_NUMBER, CREDIT_CODE):
        assert number not in page
    # A number shown in full on public pages is offered again as it was.
    with app.app_context():
        notice, token = services.submit(
            LOSS, services.flatten(loss_data("T540059774", "birth_certificate")), now=at(DAY, 8)
        )
        ref = notice.ref
    decide(app, editor, ref, "withdraw")
    page = client.get(f"/track/{token}/resubmit").text
    assert value_of(page, "items-0-document_number") == "T540059774"


def value_of(page, name):
    """Return the value of the form's input ``name`` ("" when it has none)."""
    [tag] = re.findall(r'<input[^>]*\bname="' + re.escape(name) + r'"[^>]*>', page)
    found = re.search(r'\bvalue="([^"]*)"', tag)
    return found.group(1) if found else ""



def postgresql_files(app, vacuum=None):
    """Return the data files of the test database's tables and indexes, as bytes, after a
    checkpoint has written every page to them (and ``vacuum`` has run first, if given)."""
    with app.app_context(), db.engine.connect().execution_options(
        isolation_level="AUTOCOMMIT", board_reading=True
    ) as connection:
        if vacuum:
            connection.exec_driver_sql(vacuum)
        connection.exec_driver_sql("CHECKPOINT")
        files = connection.exec_driver_sql(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname IN ('public', 'pg_toast') AND pg_relation_filepath(c.oid) IS NOT NULL"
        ).scalars().all()
    folder = conftest._cluster.data
    return b"".join(read(folder / name) for name in files if (folder / name).exists())


@pytest.mark.skipif(not ON_POSTGRESQL, reason="PostgreSQL's own data files")
@pytest.mark.parametrize("vacuum", ["VACUUM", "VACUUM FULL"])
def test_postgresql_data_files_after_vacuum(app, editor, vacuum):
    """The tables' files, as autovacuum (VACUUM) or an operator (VACUUM FULL) leaves them.
    PostgreSQL's write-ahead log (pg_wal) is not read: it keeps page images until its
    segments are recycled, as any backup of it does (README, Document numbers)."""
    ref = submit(app)
    assert ID_NUMBER.encode() in postgresql_files(app)
    decide(app, editor, ref, "approve")
    held = postgresql_files(app, vacuum)
    assert hash_of(app, ID_NUMBER).encode() in held
    for number in full_numbers():
        assert number not in held
