"""flask backup and flask restore, on the database the suite runs on.

SQLite's backup is a database file checked with ``PRAGMA integrity_check``; PostgreSQL's is a
pg_dump custom-format archive read back whole through pg_restore. Each test reads the file
with that database's own tools.
"""
import multiprocessing
import os
import sqlite3
import subprocess
import threading
import time
from contextlib import closing

import conftest
import postgres
import pytest
import sqlalchemy as sa
from conftest import ON_POSTGRESQL
from conftest import config
from conftest import seed_data
from sqlalchemy import make_url

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


def pg_environment():
    """The environment that connects PostgreSQL's client programs to the tests' cluster."""
    return {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(conftest._cluster.port),
            "PGUSER": postgres.ROLE}


def pg_tool(program, *args, check=True):
    """Run one of PostgreSQL's client programs on the tests' cluster; return what it did."""
    return subprocess.run([str(postgres.bin_dir() / program), *args], env=pg_environment(),
                          capture_output=True, check=check)


def column_in(path, table, column):
    """Return the values of ``column`` in the backup's ``table``, as text, in file order."""
    if not ON_POSTGRESQL:
        with read_only(path) as copy:
            return [str(value) for (value,) in copy.execute(f'SELECT {column} FROM "{table}"')]
    script = pg_tool("pg_restore", "--data-only", f"--table={table}", "--file=-", str(path))
    lines = iter(script.stdout.decode().splitlines())
    for line in lines:
        if line.startswith("COPY "):
            position = line.split("(", 1)[1].split(")")[0].split(", ").index(column)
            break
    return [line.split("\t")[position] for line in iter(lines.__next__, "\\.")]


def refs_in(path):
    return set(column_in(path, "notice", "ref"))


def integrity(path):
    """Return whether the backup passes its database's integrity check."""
    if ON_POSTGRESQL:
        done = pg_tool("pg_restore", "--file=/dev/null", str(path), check=False)
        return done.returncode == 0 and done.stderr == b""
    with read_only(path) as copy:
        return [row[0] for row in copy.execute("PRAGMA integrity_check")] == ["ok"]


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
    assert integrity(path)
    # One self-contained file (on SQLite, no WAL flag in the header), nothing left beside it.
    with path.open("rb") as f:
        if ON_POSTGRESQL:
            assert f.read(5) == b"PGDMP"
        else:
            assert f.read(20)[18:20] == b"\x01\x01"
    assert os.listdir(path.parent) == ["b.db"]
    # Readable by its owner only: it holds phone numbers and password hashes.
    assert oct(path.stat().st_mode & 0o777) == "0o600"


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


def test_backup_refuses_a_database_it_cannot_copy(app, runner, tmp_path, monkeypatch):
    with app.app_context():
        monkeypatch.setattr(db.engine.dialect, "name", "mysql")
    result = runner.invoke(args=["backup", str(tmp_path / "b.db")])
    assert result.exit_code != 0 and "neither SQLite nor PostgreSQL" in result.output
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
            "UPDATE sqlite_schema SET sql = replace(sql, '(number_hash)', '(owner_name)')"
            " WHERE name = 'ix_loss_item_number_hash'"
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


def pg_overwrite(path):
    """Overwrite the last tenth of the archive, where the tables' data lies.

    The table of contents comes first, its definitions in plain text: on this board's schema
    it fills about four fifths of the file. Garbage in it can crash pg_restore (signal 11)
    instead of making it say what it found.
    """
    data = bytearray(path.read_bytes())
    start = len(data) - len(data) // 10
    data[start:] = b"\xab" * (len(data) - start)
    path.write_bytes(bytes(data))


def pg_truncate(path):
    """Cut the archive short, as a full disk or an interrupted copy would."""
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def pg_sqlite_file(path):
    """Put a SQLite backup where a PostgreSQL one was expected."""
    path.unlink()
    with closing(sqlite3.connect(path)) as other, other:
        other.execute("CREATE TABLE notice (id INTEGER PRIMARY KEY, ref TEXT)")


def pg_rewritten(path, statement, restored=True):
    """Run ``statement`` in a scratch database (holding the archive if ``restored``), then
    dump that database over the archive."""
    name = conftest._database_name(f"{path}-scratch")
    conftest._cluster.create(name)
    try:
        if restored:
            pg_tool("pg_restore", "--no-owner", f"--dbname={name}", str(path))
        pg_tool("psql", "--no-psqlrc", "--set=ON_ERROR_STOP=1", f"--dbname={name}",
                f"--command={statement}")
        path.unlink()
        pg_tool("pg_dump", "--format=custom", f"--file={path}", name)
    finally:
        conftest._cluster.drop(name)


def pg_first_revision(path):
    """Put the archive back at the board's first schema, as an old backup would be."""
    pg_rewritten(path, "UPDATE alembic_version SET version_num = 'f52814a44bfe'")


def pg_someone_elses(path):
    pg_rewritten(path, "CREATE TABLE notice (id serial PRIMARY KEY, ref text)", restored=False)


def pg_break_a_definition(path):
    """Change one definition in the archive's table of contents, which has no checksum: only
    running it finds the fault, after the restore has dropped and reloaded tables."""
    data = path.read_bytes()
    # The notice's own: objections have a unique ref too.
    definition = b"notice_ref_key UNIQUE (ref)"
    assert data.count(definition) == 1
    path.write_bytes(data.replace(definition, b"notice_ref_key UNIQUE (rex)"))


SPOILED = {
    "sqlite": [
        (overwrite_pages, "is damaged or unreadable: database disk image is malformed"),
        (break_an_index, "fails SQLite's integrity check: row 1 missing from index"),
        (not_a_database, "is not a SQLite database"),
        (first_revision, "is at schema revision f52814a44bfe, but this code is at "),
        (someone_elses, "is a SQLite database but not the board's: it has no alembic_version"),
    ],
    "postgresql": [
        (pg_overwrite, "is damaged or unreadable: pg_restore: error: "),
        (pg_truncate, "is damaged or unreadable: pg_restore: error: could not read from input"),
        (not_a_database, "is not a PostgreSQL backup made by pg_dump -Fc."),
        (pg_sqlite_file, "is not a PostgreSQL backup made by pg_dump -Fc."),
        (pg_first_revision, "is at schema revision f52814a44bfe, but this code is at "),
        (pg_someone_elses, "is a PostgreSQL backup but not the board's: it has no alembic_versi"),
        (pg_break_a_definition, "failed, and the database is as it was before: "),
    ],
}


@pytest.mark.parametrize(("spoil", "message"), SPOILED[conftest.DATABASE])
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


def _write_until_stopped(settings, user_id, acked, stop):
    """Submit loss declarations, approving every other one, until ``stop`` is set.

    A ref goes into ``acked`` only after submit returned, that is after its commit.
    """
    app = create_app(settings)
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
                args=(config(tmp_path, tmp_path / "t.db"), user_id, acked, stop),
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
    assert integrity(path)

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
            # Not a row more or fewer than the file holds, in any table.
            for model in TABLES:
                ids = {str(id) for id in db.session.scalars(db.select(model.id))}
                assert ids == set(column_in(path, model.__tablename__, "id"))
    finally:
        with fresh.app_context():
            db.engine.dispose()
        if ON_POSTGRESQL:
            conftest._cluster.drop(conftest._database_name(fresh_dir / "restored.db"))


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
    (backed_up,) = column_in(saved, "generation", "value")
    result = runner.invoke(args=["restore", "--yes", str(saved)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.get(Generation, 1).value not in (None, backed_up)


@pytest.mark.skipif(not ON_POSTGRESQL, reason="pg_dump and pg_restore serve PostgreSQL only")
def test_pg_dump_is_given_the_password_by_environment_only(app, board, tmp_path, monkeypatch):
    """``ps`` shows every user of the machine a program's command line, never its environment."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(password="a secret word")
    # The tests' cluster trusts loopback connections, so any password lets the board in.
    secret = create_app({**app.config, "SQLALCHEMY_DATABASE_URI": url.render_as_string(hide_password=False)})
    started = []
    popen = subprocess.Popen

    def recording(args, **kwargs):
        started.append((args, kwargs.get("env") or {}))
        return popen(args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", recording)
    runner = secret.test_cli_runner()
    try:
        path = tmp_path / "b.db"
        assert runner.invoke(args=["backup", str(path)]).exit_code == 0
        result = runner.invoke(args=["restore", "--yes", str(path)])
        assert result.exit_code == 0, result.output
    finally:
        with secret.app_context():
            db.engine.dispose()
    connecting = [env for args, env in started if "--no-password" in args]
    assert len(connecting) == 2
    assert all(env["PGPASSWORD"] == "a secret word" for env in connecting)
    assert not any("secret" in " ".join(map(str, args)) for args, env in started)


@pytest.mark.skipif(not ON_POSTGRESQL, reason="a restore locks tables on PostgreSQL only")
def test_a_restore_gives_way_to_a_reader_it_would_deadlock_with(app, runner, saved):
    """A page view holds one table and, while the restore waits for it, reads every other
    table: the restore must not be holding one of them until PostgreSQL's deadlock check ends
    one of the two. The reader finishes; the restore then takes the tables and succeeds."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    reader = sa.create_engine(url, poolclass=sa.pool.NullPool,
                              execution_options={"board_reading": True})
    with app.app_context():
        tables = sorted(db.inspect(db.engine).get_table_names())
    done = {}

    def restore():
        done["result"] = runner.invoke(args=["restore", "--yes", str(saved)])

    thread = threading.Thread(target=restore, daemon=True)
    try:
        with reader.connect() as connection:
            connection.execute(sa.text("SELECT count(*) FROM notice"))
            thread.start()
            waiting = sa.text(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND mode = 'AccessExclusiveLock'"
                " AND relation = 'notice'::regclass"
            )
            deadline = time.monotonic() + 30
            while not connection.execute(waiting).scalar() and time.monotonic() < deadline:
                time.sleep(0.02)
            for table in tables:
                connection.execute(sa.text(f'SELECT count(*) FROM "{table}"'))
            connection.commit()
    finally:
        thread.join(90)
        reader.dispose()
    assert done["result"].exit_code == 0, done["result"].output
