"""outbox ids never reused

Revision ID: a3c9e1f07b52
Revises: 190634db8893
Create Date: 2026-11-24 03:40:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a3c9e1f07b52'
down_revision = '190634db8893'
branch_labels = None
depends_on = None


def upgrade():
    # SQLite reuses the largest rowid once a table empties; AUTOINCREMENT never does, so the
    # table is rebuilt with it, rows and all. PostgreSQL draws ids from a sequence, which never
    # hands one out twice: there a rebuild would only make a new sequence starting at 1, and
    # the next insert would collide with the rows kept.
    if not _on_sqlite():
        return
    with op.batch_alter_table(
        'index_outbox', recreate='always', table_kwargs={'sqlite_autoincrement': True}
    ):
        pass


def downgrade():
    if not _on_sqlite():
        return
    with op.batch_alter_table(
        'index_outbox', recreate='always', table_kwargs={'sqlite_autoincrement': False}
    ):
        pass


def _on_sqlite():
    return op.get_bind().dialect.name == 'sqlite'
