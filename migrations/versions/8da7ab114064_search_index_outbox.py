"""search index outbox

Revision ID: 8da7ab114064
Revises: f52814a44bfe
Create Date: 2026-11-24 01:00:05.877675

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '8da7ab114064'
down_revision = 'f52814a44bfe'
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('index_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=24), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )



def downgrade():

    op.drop_table('index_outbox')

