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
    # SQLite reuses the largest rowid once a table empties; AUTOINCREMENT never does.
    # The table is rebuilt with its rows; other databases ignore the keyword.
    with op.batch_alter_table(
        'index_outbox', recreate='always', table_kwargs={'sqlite_autoincrement': True}
    ):
        pass


def downgrade():
    with op.batch_alter_table(
        'index_outbox', recreate='always', table_kwargs={'sqlite_autoincrement': False}
    ):
        pass
