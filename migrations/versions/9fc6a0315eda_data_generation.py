"""data generation

Revision ID: 9fc6a0315eda
Revises: a3c9e1f07b52
Create Date: 2026-11-27 04:10:00.000000

"""
import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '9fc6a0315eda'
down_revision = 'a3c9e1f07b52'
branch_labels = None
depends_on = None


def upgrade():
    generation = op.create_table('generation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('value', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    # The one row, drawn at random like every later value, so no two databases start alike.
    op.bulk_insert(generation, [{'id': 1, 'value': secrets.token_hex(16)}])


def downgrade():
    op.drop_table('generation')
