"""notice board schema

Revision ID: f52814a44bfe
Revises:
Create Date: 2026-11-24 00:08:23.174111

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f52814a44bfe'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=24), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('submitter_name', sa.String(length=100), nullable=False),
    sa.Column('submitter_phone', sa.String(length=32), nullable=False),
    sa.Column('submitter_email', sa.String(length=200), nullable=True),
    sa.Column('tracking_hash', sa.String(length=64), nullable=False),
    sa.Column('window_start', sa.Date(), nullable=True),
    sa.Column('window_end', sa.Date(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_on', sa.Date(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('expired_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ref'),
    sa.UniqueConstraint('tracking_hash')
    )
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.create_index('ix_notice_listing', ['status', 'kind', 'window_end'], unique=False)
        batch_op.create_index('ix_notice_published_on', ['published_on'], unique=False)

    op.create_table('user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=50), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('audit_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['notice_id'], ['notice.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entry_notice_id'), ['notice_id'], unique=False)

    op.create_table('loss_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('owner_name', sa.String(length=100), nullable=False),
    sa.Column('document_type', sa.String(length=32), nullable=False),
    sa.Column('document_type_other', sa.String(length=30), nullable=True),
    sa.Column('document_number', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['notice_id'], ['notice.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('loss_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loss_item_document_number'), ['document_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_loss_item_notice_id'), ['notice_id'], unique=False)




def downgrade():

    with op.batch_alter_table('loss_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loss_item_notice_id'))
        batch_op.drop_index(batch_op.f('ix_loss_item_document_number'))

    op.drop_table('loss_item')
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entry_notice_id'))

    op.drop_table('audit_entry')
    op.drop_table('user')
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.drop_index('ix_notice_published_on')
        batch_op.drop_index('ix_notice_listing')

    op.drop_table('notice')

