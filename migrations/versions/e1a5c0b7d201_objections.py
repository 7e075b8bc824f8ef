"""objections

Revision ID: e1a5c0b7d201
Revises: e4d8f3e0a504
Create Date: 2026-11-27 14:45:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e1a5c0b7d201'
down_revision = 'e4d8f3e0a504'
branch_labels = None
depends_on = None


def upgrade():
    # An authority account handles the objections addressed to it by name.
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('authority', sa.String(length=100), nullable=True))

    # Workers' objections to wage-clearance notices.
    op.create_table('objection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=24), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('authority', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('period', sa.String(length=100), nullable=False),
    sa.Column('work', sa.String(length=200), nullable=False),
    sa.Column('details', sa.Text(), nullable=True),
    sa.Column('tracking_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['notice_id'], ['notice.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ref'),
    sa.UniqueConstraint('tracking_hash')
    )
    with op.batch_alter_table('objection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_objection_authority'), ['authority'], unique=False)
        batch_op.create_index(batch_op.f('ix_objection_notice_id'), ['notice_id'], unique=False)

    # Their handling, step by step; rows are only ever added.
    op.create_table('objection_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('objection_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['objection_id'], ['objection.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('objection_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_objection_event_objection_id'), ['objection_id'], unique=False)


def downgrade():
    with op.batch_alter_table('objection_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_objection_event_objection_id'))
    op.drop_table('objection_event')
    with op.batch_alter_table('objection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_objection_notice_id'))
        batch_op.drop_index(batch_op.f('ix_objection_authority'))
    op.drop_table('objection')
    # ALTER TABLE … DROP COLUMN, which SQLite has since 3.35: a batch would copy the table,
    # and the audit trail's foreign keys refuse the copy's DROP TABLE user.
    op.drop_column('user', 'authority')
