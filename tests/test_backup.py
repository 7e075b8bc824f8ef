import multiprocessing
import os
import sqlite3
import time
from contextlib import closing

import pytest
from conftest import config
from conftest import seed_data

from notices import create_app
from notices import expiry
from notices import kinds
from notices import services
from notices.accounts import create_user
from notices.extensions import db
from notices.models import AuditEntry
from notices.models import Generation
from notices.models import LossItem
from notices.models import Notice
from notices.models import User

TABLES = (Notice, LossItem, AuditEntry, User)


def dump(app):
    """Return every row of the tables a restore must bring back, in id order."""
    with app.app_context():
        return {
            model.__tablename__: db.session.execute(
                db.select(model.__table__).order_by(model.id)
            ).all()
            for model in TABLES
        }


def read_only(path):
    return closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True))


def refs_in(path):
    with read_only(path) as copy:
        return {ref for (ref,) in copy.execute("SELECT ref FROM notice")}


def integrity(path):
    with read_only(path) as copy:
        return [row[0] for row in copy.execute("PRAGMA integrity_check")]


@pytest.fixture
def board(app, make_notice, editor):
    """A board with a notice in every state; return the notices."""
    return {
        "published": make_notice("supplier_call"),
        "declared": make_notice("loss_declaration"),
        "revoked": make_notice("loss_declaration", index=1, status="revoked"),
        "rejected": make_notice("expert_call", status="rejected"),
        "waiting": make_notice("wage_clearance", status="submitted"),
    }


@pytest.fixture
def saved(runner, board, tmp_path):
    """A backup of the ``board``, taken through the CLI."""
    path = tmp_path / "saved.db"
    result = runner.invoke(args=["backup", str(path)])
    assert result.exit_code == 0, result.output
    return path


def test_backup_reports_a_checked_copy(runner, board, tmp_path):
    path = tmp_path / "backups" / "b.db"
    path.parent.mkdir()
    result = runner.invoke(args=["backup", str(path)])
    assert result.exit_code == 0, result.output
    assert f"to {path}: {path.stat().st_size:,} bytes, 5 notices, integrity ok" in result.output
    assert integrity(path) == ["ok"]
    # One self-contained file: no WAL flag in the header, nothing left beside it.
    with path.open("rb") as f:
        assert f.read(20)[18:20] == b"\x01\x01"
    assert os.listdir(path.parent) == ["b.db"]


def test_backup_then_restore_brings_back_every_row(app, runner, board, saved, editor, make_notice):
    before = dump(app)
    # What happens after the backup: a new notice, a revocation, a new account.
    make_notice("loss_declaration", index=2)
    with app.app_context():
        notice = db.session.merge(board["published"])
        services.revoke(notice, db.session.merge(editor), "项目取消", now=expiry.utcnow())
        create_user("pema", "a-long-secret-1")
    assert dump(app) != before

    result = runner.invoke(args=["restore", "--yes", str(saved)])
    assert result.exit_code == 0, result.output
    assert "notices 5 (3 public), loss items 2" in result.output
    assert "accounts 1." in result.output and "Indexed 3 public notices" in result.output
    assert "Active accounts as of the backup: editor (disable any" in result.output
    assert dump(app) == before
    # The index was rebuilt: the later notice is gone from it, the revoked one published again.
    checked = runner.invoke(args=["check-index"])
    assert checked.exit_code == 0, checked.output


def test_backup_refuses_an_existing_path(runner, board, tmp_path):
    path = tmp_path / "backups" / "b.db"
    path.parent.mkdir()
    path.write_text("an earlier backup")
    result = runner.invoke(args=["backup", str(path)])
    assert result.exit_code != 0
    assert "already exists" in result.output
    assert path.read_text() == "an earlier backup"
    assert os.listdir(path.parent) == ["b.db"]


def test_backup_refuses_a_database_that_is_not_sqlite(app, runner, tmp_path, monkeypatch):
    with app.app_context():
        monkeypatch.setattr(db.engine.dialect, "name", "postgresql")
    result = runner.invoke(args=["backup", str(tmp_path / "b.db")])
    assert result.exit_code != 0 and "not SQLite" in result.output
    assert not (tmp_path / "b.db").exists()


def overwrite_pages(path):
    """Overwrite every page after the first, where the tables' rows live."""
    data = bytearray(path.read_bytes())
    data[4096:] = b"\xab" * (len(data) - 4096)
    path.write_bytes(bytes(data))


def break_an_index(path):
    """Make an index disagree with its table, which only a full check notices."""
    with closing(sqlite3.connect(path)) as copy, copy:
        copy.execute("PRAGMA writable_schema=ON")
        copy.execute(
            "UPDATE sqlite_schema SET sql = replace(sql, '(document_number)', '(owner_name)')"
            " WHERE name = 'ix_loss_item_document_number'"
        )


def not_a_database(path):
    path.write_text("notice,ref\n" * 500)


def first_revision(path):
    """Put the file back at the board's first schema, as an old backup would be."""
    with closing(sqlite3.connect(path)) as copy, copy:
        copy.execute("UPDATE alembic_version SET version_num = 'f52814a44bfe'")


def someone_elses(path):
    path.unlink()
    with closing(sqlite3.connect(path)) as other, other:
        other.execute("CREATE TABLE notice (id INTEGER PRIMARY KEY, ref TEXT)")


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (overwrite_pages, "is damaged or unreadable: database disk image is malformed"),
        (break_an_index, "fails SQLite's integrity check: row 1 missing from index"),
        (not_a_database, "is not a SQLite database"),
        (first_revision, "is at schema revision f52814a44bfe, but this code is at "),
        (someone_elses, "not the board's: it has no alembic_version table"),
    ],
)
def test_restore_refuses_a_bad_file_and_changes_nothing(app, runner, saved, make_notice, spoil,
                                                        message):
    make_notice("loss_declaration", index=3)
    before = dump(app)
    spoil(saved)
    result = runner.invoke(args=["restore", "--yes", str(saved)])
    assert result.exit_code != 0
    assert message in result.output
    assert dump(app) == before
    assert runner.invoke(args=["check-index"]).exit_code == 0


def test_restore_asks_first(app, runner, saved, make_notice):
    make_notice("loss_declaration", index=3)
    before = dump(app)
    result = runner.invoke(args=["restore", str(saved)], input="n\n")
    assert result.exit_code != 0 and "Replace every notice" in result.output
    assert dump(app) == before
    assert runner.invoke(args=["restore", str(saved)], input="y\n").exit_code == 0
    assert dump(app) != before


def _write_until_stopped(db_path, tmp_path, user_id, acked, stop):
    """Submit loss declarations, approving every other one, until ``stop`` is set.

    A ref goes into ``acked`` only after submit returned, that is after its commit.
    """
    app = create_app(config(tmp_path, db_path))
    kind = kinds.get("loss_declaration")
    with app.app_context():
        user = db.session.get(User, user_id)
        n = 0
        while not stop.is_set():
            data = services.flatten(seed_data("loss_declaration", n % 6))
            notice, _ = services.submit(kind, data, now=expiry.utcnow())
            acked.append(notice.ref)
            if n % 2:
                services.approve(notice, user, now=expiry.utcnow())
            n += 1
        db.engine.dispose()


def wait_for(acked, count, writers):
    deadline = time.monotonic() + 60
    while len(acked) < count:
        assert time.monotonic() < deadline and all(w.is_alive() for w in writers)
        time.sleep(0.05)


def test_restore_drill_under_load(app, runner, editor, tmp_path):
    with app.app_context():
        user_id = db.session.merge(editor).id
    path = tmp_path / "drill.db"
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        acked, stop = manager.list(), manager.Event()
        writers = [
            context.Process(
                target=_write_until_stopped,
                args=(tmp_path / "t.db", tmp_path, user_id, acked, stop),
            )
            for _ in range(3)
        ]
        for writer in writers:
            writer.start()
        try:
            # Let every writer get going, so the backup lands in the middle of steady load.
            wait_for(acked, 60, writers)
            before = set(acked[:])
            result = runner.invoke(args=["backup", str(path)])
            # The writers carry on after the backup, so the file misses their later work.
            wait_for(acked, len(acked) + 30, writers)
        finally:
            stop.set()
            for writer in writers:
                writer.join(timeout=60)
        assert all(writer.exitcode == 0 for writer in writers)
        everything = set(acked[:])
    assert result.exit_code == 0, result.output

    saved = refs_in(path)
    assert before <= saved
    assert saved <= everything and len(everything) > len(saved)
    assert integrity(path) == ["ok"]

    fresh_dir = tmp_path / "fresh"
    fresh_dir.mkdir()
    fresh = create_app(config(fresh_dir, fresh_dir / "restored.db"))
    fresh_runner = fresh.test_cli_runner()
    try:
        restored = fresh_runner.invoke(args=["restore", "--yes", str(path)])
        assert restored.exit_code == 0, restored.output
        assert f"notices {len(saved)} " in restored.output
        assert fresh_runner.invoke(args=["reindex"]).exit_code == 0
        checked = fresh_runner.invoke(args=["check-index"])
        assert checked.exit_code == 0, checked.output
        assert "The index matches the database." in checked.output
        with fresh.app_context():
            assert set(db.session.scalars(db.select(Notice.ref))) == saved
    finally:
        with fresh.app_context():
            db.engine.dispose()


def test_a_restore_ends_every_login(app, runner, board, tmp_path):
    """A login open when the backup was taken may have ended since; nobody gets it back."""
    client = app.test_client()
    client.post("/editor/login", data={"username": "editor", "password": "correct-horse-battery"})
    assert client.get("/editor/").status_code == 200
    path = tmp_path / "with-login.db"
    assert runner.invoke(args=["backup", str(path)]).exit_code == 0
    result = runner.invoke(args=["restore", "--yes", str(path)])
    assert result.exit_code == 0, result.output
    assert client.get("/editor/").status_code == 302


def test_a_restore_gives_the_board_a_new_generation(app, runner, saved):
    """The file brings back the data generation it was taken at; the restore replaces it, so no
    worker takes a page it kept under that generation for the data restored."""
    with read_only(saved) as copy:
        (backed_up,) = copy.execute("SELECT value FROM generation").fetchone()
    result = runner.invoke(args=["restore", "--yes", str(saved)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.get(Generation, 1).value not in (None, backed_up)
