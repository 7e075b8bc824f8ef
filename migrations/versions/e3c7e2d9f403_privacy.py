"""privacy: consent to publish, purge records

Revision ID: e3c7e2d9f403
Revises: e1a5c0b7d201
Create Date: 2026-11-27 14:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e3c7e2d9f403'
down_revision = 'e1a5c0b7d201'
branch_labels = None
depends_on = None


def upgrade():
    # The consent to publish and the privacy notice's version it was given under; when the
    # retention purge removed contacts and an unpublished submission's content. Existing
    # notices were collected before consent was asked: None.
    # Plain ALTER TABLE on both engines (SQLite 3.35 and later drops columns too): a batch
    # copy of the notice table would meet the foreign keys of every table that names it.
    op.add_column('notice', sa.Column('consent_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('notice', sa.Column('consent_version', sa.String(length=16), nullable=True))
    op.add_column('notice', sa.Column('contacts_purged_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('notice', sa.Column('content_purged_at', sa.DateTime(timezone=True), nullable=True))

    # One row per purge run that removed something.
    op.create_table('purge_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('ran_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('purge_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_purge_run_day'), ['day'], unique=False)


def downgrade():
    with op.batch_alter_table('purge_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_purge_run_day'))
    op.drop_table('purge_run')
    op.drop_column('notice', 'content_purged_at')
    op.drop_column('notice', 'contacts_purged_at')
    op.drop_column('notice', 'consent_version')
    op.drop_column('notice', 'consent_at')
