"""search document

Revision ID: c41f7d2e9a10
Revises: 9fc6a0315eda
Create Date: 2026-11-27 07:40:00.000000

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'c41f7d2e9a10'
down_revision = '9fc6a0315eda'
branch_labels = None
depends_on = None


def upgrade():
    # The table is made on every database, though only the PostgreSQL search engine writes
    # it: one schema for the models and for every later migration, whichever database a board
    # runs on. Its ``document`` is a tsvector under a GIN index on PostgreSQL only; SQLite
    # has no such type, and gets plain text and a plain index, never filled.
    op.create_table('search_document',
    sa.Column('ref', sa.String(length=24), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('issuer', sa.Text(), nullable=False),
    sa.Column('published_on', sa.Date(), nullable=False),
    sa.Column('window_end', sa.Date(), nullable=False),
    sa.Column('text_version', sa.Integer(), nullable=False),
    sa.Column('public_text', sa.Text(), nullable=False),
    sa.Column('document', sa.Text().with_variant(postgresql.TSVECTOR(), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['ref'], ['notice.ref'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ref')
    )
    with op.batch_alter_table('search_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_document_issuer'), ['issuer'], unique=False)
        batch_op.create_index('ix_search_document_document', ['document'], unique=False,
                              postgresql_using='gin')
        # The default search's candidates, the notices in an open window (partial on
        # PostgreSQL; a plain index of an empty table elsewhere).
        batch_op.create_index('ix_search_document_active', ['window_end'], unique=False,
                              postgresql_where=sa.text("status = 'published'"))
    # The rows are made by `flask init-db`, which every upgrade runs: it finds public notices
    # without rows (search.text_version() is 0) and rebuilds the index.


def downgrade():
    op.drop_table('search_document')
