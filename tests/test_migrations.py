"""The migrations run on a board that holds data, on the database the suite runs on.

``migrated_db`` builds an empty database; a board being upgraded is never empty, and some
migrations (a table rebuilt, a sequence) only go wrong with rows in it.
"""
from datetime import datetime
from datetime import timezone

import conftest
import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from conftest import ON_POSTGRESQL
from conftest import config

from notices import create_app
from notices.extensions import db

WHEN = datetime(2026, 3, 8, 1, 0, tzinfo=timezone.utc)
# The revision before the outbox's ids were made never to be reused, and that one.
BEFORE_AUTOINCREMENT = "190634db8893"
AUTOINCREMENT = "a3c9e1f07b52"


@pytest.fixture
def empty(tmp_path):
    """An app on a database no migration has run on yet."""
    app = create_app(config(tmp_path, tmp_path / "empty.db"))
    yield app
    with app.app_context():
        db.engine.dispose()
    if ON_POSTGRESQL:
        conftest._cluster.drop(conftest._database_name(tmp_path / "empty.db"))


def upgrade(app, revision):
    _run(app, flask_migrate.upgrade, revision)


def downgrade(app, revision):
    _run(app, flask_migrate.downgrade, revision)


def _run(app, command, revision):
    with app.app_context():
        command(directory=app.extensions["migrate"].directory, revision=revision)
        db.engine.dispose()


def _order(app):
    """Every revision, first to last."""
    migrate = app.extensions["migrate"]
    with app.app_context():
        config = migrate.migrate.get_config(migrate.directory)
    scripts = ScriptDirectory.from_config(config)
    return [script.revision for script in reversed(list(scripts.walk_revisions()))]


def tables(connection):
    metadata = sa.MetaData()
    metadata.reflect(connection)
    return metadata.tables


def fill(app):
    """Put a notice in the first schema's tables, with everything that refers to it."""
    with app.app_context(), db.engine.begin() as connection:
        t = tables(connection)
        connection.execute(t["user"].insert(), [{
            "id": 1, "username": "editor", "password_hash": "x", "role": "editor",
            "active": True, "created_at": WHEN,
        }])
        connection.execute(t["notice"].insert(), [{
            "id": 1, "ref": "2026-0001", "kind": "loss_declaration", "status": "published",
            "fields": {"title": "遗失声明"}, "submitter_name": "扎西", "submitter_phone": "13800138000",
            "tracking_hash": "h" * 64, "submitted_at": WHEN, "published_at": WHEN,
            "published_on": WHEN.date(), "window_start": WHEN.date(), "window_end": WHEN.date(),
        }])
        connection.execute(t["loss_item"].insert(), [{
            "notice_id": 1, "position": 0, "owner_name": "扎西", "document_type": "id_card",
            "document_number": "540102199001011234",
        }])
        connection.execute(t["audit_entry"].insert(), [{
            "notice_id": 1, "action": "approve", "user_id": 1, "actor": "editor",
            "created_at": WHEN,
        }])


def outbox_ids(app):
    with app.app_context(), db.engine.connect() as connection:
        return connection.exec_driver_sql("SELECT id FROM index_outbox ORDER BY id").scalars().all()


def add_to_outbox(app, count=1):
    """Insert ``count`` outbox rows the way the board does, letting the database pick the ids."""
    with app.app_context(), db.engine.begin() as connection:
        outbox = tables(connection)["index_outbox"]
        for _ in range(count):
            connection.execute(outbox.insert(), [{"ref": "2026-0001", "created_at": WHEN}])


def empty_outbox(app):
    with app.app_context(), db.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM index_outbox")


def test_outbox_ids_keep_increasing_across_the_migration(empty):
    """The next id after the migration is above every row kept, and above every row ever drained."""
    upgrade(empty, BEFORE_AUTOINCREMENT)
    fill(empty)
    add_to_outbox(empty, 3)
    kept = outbox_ids(empty)
    assert kept == [1, 2, 3]

    upgrade(empty, AUTOINCREMENT)
    assert outbox_ids(empty) == kept
    add_to_outbox(empty)
    assert outbox_ids(empty) == [1, 2, 3, 4]
    # Drained to nothing, the outbox still never hands out an id twice.
    empty_outbox(empty)
    add_to_outbox(empty)
    assert outbox_ids(empty) == [5]

    upgrade(empty, "head")
    add_to_outbox(empty)
    assert outbox_ids(empty) == [5, 6]


def test_every_migration_runs_down_and_up_with_rows_present(empty):
    """Up one step at a time from the first schema, down to it again and back up: each
    migration meets the rows the ones before it left, and none is lost on the way."""
    order = _order(empty)
    upgrade(empty, order[0])
    fill(empty)
    steps = [(upgrade, r) for r in order[1:]] + [(downgrade, r) for r in reversed(order[:-1])]
    for step, revision in steps + [(upgrade, r) for r in order[1:]]:
        step(empty, revision)
        with empty.app_context(), db.engine.connect() as connection:
            present = tables(connection)
            rows = {
                name: connection.execute(sa.select(sa.func.count()).select_from(present[name]))
                .scalar()
                for name in ("notice", "user", "loss_item", "audit_entry")
            }
        assert rows == {"notice": 1, "user": 1, "loss_item": 1, "audit_entry": 1}, revision
        # The insert is the check: an id sequence restarted under the rows kept fails it with
        # a duplicate key.
        if "index_outbox" in present:
            add_to_outbox(empty)
