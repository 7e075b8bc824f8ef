import os
import socket
import subprocess
import sys
from datetime import date

import pytest
from conftest import at
from conftest import at_once
from live import Client
from live import free_port

from notices import expiry
from notices.accounts import authenticate
from notices.extensions import db
from notices.models import Notice
from notices.models import User


def notices(app):
    with app.app_context():
        return db.session.scalars(db.select(Notice).order_by(Notice.id)).all()


def test_init_db_is_rerunnable(runner):
    for _ in range(2):
        result = runner.invoke(args=["init-db"])
        assert result.exit_code == 0, result.output
        assert "Database ready" in result.output


def test_init_db_creates_a_fresh_database(tmp_path):
    from notices import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/fresh.db"})
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert {"notice", "loss_item", "user", "audit_entry", "alembic_version"} <= set(
            db.inspect(db.engine).get_table_names()
        )
        db.engine.dispose()


def test_seed_demo_publishes_every_seed_open_today(app, runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "Loaded 9 seed notices" in result.output
    today = expiry.board_today(expiry.utcnow())
    loaded = notices(app)
    assert sorted(n.kind for n in loaded) == sorted(
        ["supplier_call", "expert_call", "wage_clearance"] + ["loss_declaration"] * 6
    )
    assert all(n.status == "published" and n.window_start == today for n in loaded)
    assert all(not expiry.is_expired(n.window_end, today) for n in loaded)
    # The printed password logs in.
    password = result.output.strip().splitlines()[-1].split(" / ")[1]
    with app.app_context():
        assert authenticate("demo-editor", password) is not None


def test_seed_demo_twice_loads_nothing_new(app, runner):
    runner.invoke(args=["seed-demo"])
    result = runner.invoke(args=["seed-demo"])
    assert "Loaded 0 seed notices" in result.output and "9 were already" in result.output
    assert len(notices(app)) == 9


def test_seed_demo_as_printed_puts_everything_in_the_archive(app, runner, client):
    result = runner.invoke(args=["seed-demo", "--as-printed"])
    assert result.exit_code == 0, result.output
    loaded = {n.kind: n for n in notices(app)}
    call = loaded["supplier_call"]
    assert (call.window_start, call.window_end) == (date(2024, 3, 8), date(2024, 4, 7))
    assert loaded["wage_clearance"].window_start == date(2026, 7, 10)
    body = client.get("/api/v1/notices?status=archived&per_page=50").get_json()
    assert body["total"] == 9
    assert client.get("/api/v1/notices").get_json()["total"] == 0


def test_create_user_with_password_on_stdin(app, runner):
    result = runner.invoke(args=["create-user", "dawa", "--role", "admin", "--password-stdin"],
                           input="a-long-secret-1\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = authenticate("dawa", "a-long-secret-1")
        assert user is not None and user.role == "admin"
        assert user.password_hash.startswith("$argon2id$")
        assert authenticate("dawa", "wrong-password") is None


def test_create_user_refuses_duplicates_and_short_passwords(app, runner):
    runner.invoke(args=["create-user", "dawa", "--password-stdin"], input="a-long-secret-1\n")
    again = runner.invoke(args=["create-user", "dawa", "--password-stdin"], input="a-long-secret-2\n")
    assert again.exit_code != 0 and "已存在" in again.output
    short = runner.invoke(args=["create-user", "pema", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "密码至少" in short.output
    bad_role = runner.invoke(args=["create-user", "pema", "--role", "root", "--password-stdin"], input="x" * 12)
    assert bad_role.exit_code != 0
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 1


def test_create_user_prompts_for_the_password(app, runner):
    result = runner.invoke(args=["create-user", "pema"], input="a-long-secret-1\na-long-secret-1\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert authenticate("pema", "a-long-secret-1") is not None


def test_expire_records_against_the_given_day(app, runner, make_notice):
    make_notice("supplier_call", day=date(2024, 3, 8))
    assert "Recorded expiry of 0 notices" in runner.invoke(args=["expire", "--today", "2024-04-07"]).output
    assert "Recorded expiry of 1 notices" in runner.invoke(args=["expire", "--today", "2024-04-08"]).output
    assert "Recorded expiry of 0 notices" in runner.invoke(args=["expire"]).output
    bad = runner.invoke(args=["expire", "--today", "2024-02-30"])
    assert bad.exit_code != 0


def test_two_expire_runs_at_once_record_each_expiry_once(app, make_notice):
    """Cron on two servers runs expire at the same minute: each notice expires once."""
    from notices import services
    from notices.models import AuditEntry

    for index in range(3):
        make_notice("supplier_call", day=date(2024, 3, 8), project_name=f"第{index}批供应商")

    def run():
        with app.app_context():
            count = services.expire_due(date(2024, 4, 8), now=at(date(2024, 4, 8), 0, 5))
            db.session.remove()
            return count

    assert sorted(at_once(2, run)) == [0, 3]
    with app.app_context():
        expiries = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "expire"))
        assert len(expiries.all()) == 3


@pytest.mark.search_engine("whoosh")
def test_init_db_rebuilds_an_index_made_from_older_public_text(app, runner, make_notice):
    """An index built before ID numbers were masked to 4 + 1 still matched the 6 + 4 digits
    older pages showed; the upgrade (init-db) rebuilds it, and check-index says so until then."""
    import os

    from notices import search

    item = {"owner_name": "", "document_type": "id_card", "document_number": "540102199001011233"}
    make_notice("loss_declaration", items=[item])
    with app.app_context():
        # The index as the previous release left it: made from older text, and saying nothing.
        writer = search.open_index().writer()
        writer.update_document(ref="OLD", kind="loss_declaration", status="published",
                               issuer="x", published_on=20240308, window_end=20240407,
                               title="x", words="540102********1233", grams="540102********1233")
        writer.commit()
        os.remove(os.path.join(app.config["SEARCH_INDEX_DIR"], "board-text-version"))
    stale = runner.invoke(args=["check-index"])
    assert stale.exit_code == 1 and "run flask reindex" in stale.output
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert "rebuilding it" in result.output
    assert runner.invoke(args=["check-index"]).exit_code == 0
    with app.app_context():
        assert search.text_version() == search.TEXT_VERSION
        assert "OLD" not in search.indexed()
    # Run again, nothing is rebuilt.
    assert "rebuilding" not in runner.invoke(args=["init-db"]).output


def test_serve_demo_serves_the_seeds_and_prints_the_login_last(app, tmp_path):
    """`make demo`'s last step: the login, framed, is the last thing printed before requests
    are served, and it logs in to the board that is serving."""
    port = free_port()
    env = {
        **os.environ,
        "FLASK_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "FLASK_SEARCH_INDEX_DIR": app.config["SEARCH_INDEX_DIR"],
        "FLASK_SECRET_KEY": "test",
        "FLASK_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    demo = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "serve-demo", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        printed = []
        for line in demo.stdout:
            printed.append(line.rstrip("\n"))
            if line.startswith("Ctrl-C"):
                break
        frame = printed[printed.index("The notice board is serving at "
                                      f"http://127.0.0.1:{port}") - 1:]
        assert frame[0] == "=" * len(frame[0]) and len(frame[0]) > 20
        assert printed[0].startswith("Loaded 9 seed notices")
        password = next(line.split()[-1] for line in frame if line.strip().startswith("password"))
        assert any(line.split()[-1] == "demo-editor" for line in frame if "name" in line)

        web = Client(f"http://127.0.0.1:{port}")
        assert web.get("/").status == 200
        assert web.login("demo-editor", password)
        # Then the frame's closing rule, and nothing else until a request comes.
        assert demo.stdout.readline().rstrip("\n") == frame[0]
    finally:
        demo.terminate()
        demo.wait(10)
        demo.stdout.close()


def test_serve_demo_says_when_its_port_is_taken(app):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = app.test_cli_runner().invoke(args=["serve-demo", "--port", str(port)])
    assert result.exit_code != 0
    assert f"Port {port} is in use" in result.output
