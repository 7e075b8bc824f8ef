"""index for active listings

Revision ID: 5d81bd1443f3
Revises: 8da7ab114064
Create Date: 2026-11-24 01:38:30.493362

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '5d81bd1443f3'
down_revision = '8da7ab114064'
branch_labels = None
depends_on = None


def upgrade():

    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.create_index('ix_notice_status_window_end', ['status', 'window_end'], unique=False)




def downgrade():

    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.drop_index('ix_notice_status_window_end')


