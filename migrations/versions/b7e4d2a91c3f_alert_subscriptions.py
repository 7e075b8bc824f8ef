"""alert subscriptions

Revision ID: b7e4d2a91c3f
Revises: a2d83e9ac07c
Create Date: 2026-11-27 12:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b7e4d2a91c3f'
down_revision = 'a2d83e9ac07c'
branch_labels = None
depends_on = None


def upgrade():
    # Addresses told of new notices: a search, a type or a watched document number (only a
    # keyed hash of it). Ids are never reused: signed links name a row by id.
    op.create_table('alert_subscription',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('what', sa.String(length=16), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('q', sa.String(length=200), nullable=True),
    sa.Column('notice_kind', sa.String(length=32), nullable=True),
    sa.Column('issuer', sa.String(length=100), nullable=True),
    sa.Column('number_hash', sa.String(length=64), nullable=True),
    sa.Column('number_masked', sa.String(length=60), nullable=True),
    sa.Column('frequency', sa.String(length=16), nullable=False),
    sa.Column('nonce', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('alert_subscription', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_subscription_confirmed_at'), ['confirmed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_subscription_email_hash'), ['email_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_subscription_number_hash'), ['number_hash'], unique=False)

    # Notices published for daily subscribers, until that day's digest is written.
    op.create_table('alert_match',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['notice_id'], ['notice.id'], ),
    sa.ForeignKeyConstraint(['subscription_id'], ['alert_subscription.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('subscription_id', 'notice_id')
    )
    with op.batch_alter_table('alert_match', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_match_day'), ['day'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_match_subscription_id'), ['subscription_id'], unique=False)


def downgrade():
    with op.batch_alter_table('alert_match', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_match_subscription_id'))
        batch_op.drop_index(batch_op.f('ix_alert_match_day'))
    op.drop_table('alert_match')
    with op.batch_alter_table('alert_subscription', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_subscription_number_hash'))
        batch_op.drop_index(batch_op.f('ix_alert_subscription_email_hash'))
        batch_op.drop_index(batch_op.f('ix_alert_subscription_confirmed_at'))
    op.drop_table('alert_subscription')
