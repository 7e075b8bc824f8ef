"""corrections

Revision ID: e2b6d1c8e302
Revises: e3c7e2d9f403
Create Date: 2026-11-27 14:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e2b6d1c8e302'
down_revision = 'e3c7e2d9f403'
branch_labels = None
depends_on = None


def upgrade():
    # A correction (更正启事) names the notice it corrects; existing notices correct none.
    # Added in place, not by a batch's copy of the table: other tables refer to notice, and
    # SQLite refuses to drop a table they refer to.
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite adds a column with its reference in one statement, which Alembic's
        # add_column cannot say there.
        op.execute('ALTER TABLE notice ADD COLUMN corrects_id INTEGER REFERENCES notice (id)')
    else:
        op.add_column('notice', sa.Column('corrects_id', sa.Integer(), nullable=True))
        op.create_foreign_key('fk_notice_corrects_id_notice', 'notice', 'notice', ['corrects_id'], ['id'])
    op.create_index(op.f('ix_notice_corrects_id'), 'notice', ['corrects_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_notice_corrects_id'), table_name='notice')
    if op.get_bind().dialect.name == 'sqlite':
        # In place again: a batch's copy would drop a table others refer to.
        op.execute('ALTER TABLE notice DROP COLUMN corrects_id')
    else:
        op.drop_constraint('fk_notice_corrects_id_notice', 'notice', type_='foreignkey')
        op.drop_column('notice', 'corrects_id')
