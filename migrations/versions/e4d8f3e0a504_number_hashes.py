"""number hashes

Revision ID: e4d8f3e0a504
Revises: b7e4d2a91c3f
Create Date: 2026-11-27 15:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

from notices import documents

# revision identifiers, used by Alembic.
revision = 'e4d8f3e0a504'
down_revision = 'b7e4d2a91c3f'
branch_labels = None
depends_on = None

# The tables as this revision finds them, only the columns it reads or writes.
notice = sa.table(
    'notice',
    sa.column('id', sa.Integer), sa.column('status', sa.String), sa.column('fields', sa.JSON),
    sa.column('submitter_name', sa.String), sa.column('reason', sa.Text),
)
loss_item = sa.table(
    'loss_item',
    sa.column('id', sa.Integer), sa.column('notice_id', sa.Integer),
    sa.column('document_type', sa.String), sa.column('document_type_other', sa.String),
    sa.column('owner_name', sa.String), sa.column('document_number', sa.String),
    sa.column('number_hash', sa.String),
)
audit_entry = sa.table(
    'audit_entry', sa.column('id', sa.Integer), sa.column('reason', sa.Text),
)


def upgrade():
    # Every item gets the keyed hash of its number (documents.number_hash, with the app's
    # key: Flask-Migrate runs this in the app's context); the items of decided notices then
    # keep only the number's public form, as services.sealed leaves them at a decision, and
    # every ID number typed elsewhere is masked.
    bind = op.get_bind()
    if 'number_hash' not in {c['name'] for c in sa.inspect(bind).get_columns('loss_item')}:
        with op.batch_alter_table('loss_item', schema=None) as batch_op:
            batch_op.add_column(sa.Column('number_hash', sa.String(length=64), nullable=True))
    decided = {
        row.id: row for row in bind.execute(
            sa.select(notice).where(notice.c.status != 'submitted')
        )
    }
    for item in bind.execute(sa.select(loss_item)).mappings().all():
        # A hash kept through a downgrade is the only one left of a number sealed before it.
        values = {'number_hash': item['number_hash'] or documents.number_hash(item['document_number'])}
        if item['notice_id'] in decided:
            values = dict(documents.sealed_item(dict(item)), number_hash=values['number_hash'])
        bind.execute(
            loss_item.update().where(loss_item.c.id == item['id']).values(
                number_hash=values['number_hash'],
                document_number=values.get('document_number', item['document_number']),
                owner_name=values.get('owner_name', item['owner_name']),
                document_type_other=values.get('document_type_other', item['document_type_other']),
            )
        )
    for row in decided.values():
        bind.execute(notice.update().where(notice.c.id == row.id).values(
            fields=documents.mask_strings(row.fields),
            submitter_name=documents.mask_id_numbers(row.submitter_name),
            reason=documents.mask_id_numbers(row.reason),
        ))
    for row in bind.execute(sa.select(audit_entry).where(audit_entry.c.reason.is_not(None))):
        masked = documents.mask_id_numbers(row.reason)
        if masked != row.reason:
            bind.execute(
                audit_entry.update().where(audit_entry.c.id == row.id).values(reason=masked)
            )
    # Lookups match the hash now: the number's own index goes, with the full numbers it held.
    with op.batch_alter_table('loss_item', schema=None) as batch_op:
        batch_op.alter_column('number_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_index('ix_loss_item_document_number')
        batch_op.create_index(batch_op.f('ix_loss_item_number_hash'), ['number_hash'], unique=False)

    # The fingerprint of the key the hashes were made with: `flask init-db` refuses another.
    number_key = op.create_table('number_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.bulk_insert(number_key, [{'id': 1, 'fingerprint': documents.number_key_fingerprint()}])

    # PostgreSQL's search rows held full numbers in their tsvector: they go, and `flask
    # init-db`, which runs this, rebuilds them (no rows for public notices reads as an index
    # to rebuild). The Whoosh index is rebuilt by the same command: its text version is older.
    op.execute('DELETE FROM search_document')


def downgrade():
    # The full numbers of decided notices cannot come back: they keep their public form, and
    # their hashes stay in a column the older code does not know (nullable, for the rows it
    # adds), so that an upgrade again still finds them by number.
    op.drop_table('number_key')
    with op.batch_alter_table('loss_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loss_item_number_hash'))
        batch_op.create_index('ix_loss_item_document_number', ['document_number'], unique=False)
        batch_op.alter_column('number_hash', existing_type=sa.String(length=64), nullable=True)
