"""What the public sees: queries over published notices, and a notice as it is shown.

Pages and the API both read through here, so a notice is listed, dated and masked the same
way everywhere.
"""
import secrets
from dataclasses import dataclass

from flask import abort
from flask import current_app
from sqlalchemy import exists
from sqlalchemy import extract
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import update
from sqlalchemy.orm import aliased
from sqlalchemy.orm import selectinload

from notices import documents
from notices import expiry
from notices import wording
from notices.extensions import db
from notices.models import PUBLIC_STATUSES
from notices.models import Generation
from notices.models import LossItem
from notices.models import Notice
from notices.wording import Text

LISTING_STATUSES = ("active", "archived", "all")
# The id of the generation table's one row.
GENERATION_ID = 1


@dataclass
class Shown:
    """A public notice as shown on ``today``: masked fields, wording, state, status line."""

    notice: Notice
    fields: dict
    title: str
    text: Text
    state: str
    status_line: str

    @property
    def kind(self):
        return self.notice.kind_def


def show(notice, today):
    """Return ``notice`` as the public sees it on ``today``.

    Every string is masked here, whatever field it came in: the wording, the title and the
    search index are all made from these fields.
    """
    kind = notice.kind_def
    fields = public_fields(notice)
    title = kind.title(fields)
    return Shown(
        notice=notice,
        fields=fields,
        title=wording.corrected_title(title) if notice.corrects_id is not None else title,
        text=kind.text(fields, notice.window_start, notice.window_end),
        state=expiry.public_state(notice.status, notice.window_end, today),
        status_line=status_line(notice, today),
    )


def status_line(notice, today):
    """Return the line telling the public where ``notice`` stands on ``today``, masked."""
    return documents.mask_id_numbers(notice.kind_def.status_line(notice, today))


def public_fields(notice):
    """Return a notice's fields as public text may show them: document numbers masked, and any
    ID number anywhere else (a name, an "other" document, a project) masked too."""
    return documents.mask_strings(notice.kind_def.fields_of(notice, masked=True))


def draft_text(notice, today, masked=True):
    """Return a notice's wording, dated as published or, before that, as if published today."""
    kind = notice.kind_def
    start = notice.window_start or today
    end = notice.window_end or expiry.window_end(start, current_app.config["NOTICE_WINDOW_DAYS"])
    fields = public_fields(notice) if masked else kind.fields_of(notice, masked=False)
    return kind.text(fields, start, end)


# Read on every request for a kept page: plain SQL, which skips the ORM's statement building.
_GENERATION = db.text("SELECT value FROM generation WHERE id = :id")


def generation():
    """Return the data generation, or None if the database has none (a listing may then be
    kept by no one)."""
    return db.session.execute(_GENERATION, {"id": GENERATION_ID}).scalar()


def touch_generation():
    """Give the board a new data generation, in the caller's transaction; commit as usual.

    Every writer that changes what the public listings show calls this before its commit:
    approve and revoke (services._transition), recorded expiry (services.expire_due), a
    restore, a bulk import. Pages kept by any worker under the old generation are not served
    again once the commit is seen, and a writer that forgets this leaves the listings stale
    until the board's day turns.
    """
    db.session.execute(
        update(Generation)
        .where(Generation.id == GENERATION_ID)
        .values(value=secrets.token_hex(16))
        .execution_options(synchronize_session=False)
    )


# A notice is found by its unique ref alone and its status checked here: an "IN (…)" list is
# rendered into the SQL anew on every execution, which cost the permalink, the most read page,
# a millisecond a request.


def find(ref):
    """Return the public notice with this reference, or None (unknown or never published)."""
    notice = db.session.scalar(db.select(Notice).where(Notice.ref == ref))
    return notice if notice is not None and notice.status in PUBLIC_STATUSES else None


# Read on every view of a permalink, in one statement of plain SQL (which skips the ORM's
# statement building): what the kept page depends on.
_PERMALINK_STATE = db.text(
    "SELECT n.status, "
    "CASE WHEN n.corrects_id IS NOT NULL OR EXISTS (SELECT 1 FROM notice c "
    "WHERE c.corrects_id = n.id AND c.status IN ('published', 'revoked')) THEN 1 ELSE 0 END, "
    "(SELECT count(*) FROM objection o WHERE o.notice_id = n.id), "
    "(SELECT count(*) FROM objection o WHERE o.notice_id = n.id AND o.status = 'resolved') "
    "FROM notice n WHERE n.ref = :ref"
)


def permalink_state(ref):
    """Return (status, whether it takes part in a public correction, objections received,
    objections resolved) of the public notice ``ref``, or None if there is no such notice."""
    row = db.session.execute(_PERMALINK_STATE, {"ref": ref}).first()
    if row is None or row[0] not in PUBLIC_STATUSES:
        return None
    return row[0], bool(row[1]), row[2], row[3]


def listing(status, today, kind=None):
    """Return the SELECT of public notices in ``status`` (active, archived or all), newest first."""
    query = db.select(Notice)
    if status == "active":
        query = query.where(
            Notice.status == "published", expiry.active_clause(Notice.window_end, today)
        ).order_by(Notice.published_at.desc(), Notice.id.desc())
    else:
        if status == "archived":
            query = query.where(
                or_(
                    Notice.status == "revoked",
                    ~expiry.active_clause(Notice.window_end, today),
                )
            )
        query = query.where(Notice.status.in_(PUBLIC_STATUSES)).order_by(
            Notice.published_on.desc(), Notice.id.desc()
        )
    if kind is not None:
        query = query.where(Notice.kind == kind)
    return query.where(current_clause())


def in_month(query, year, month):
    """Narrow a listing to notices published in one month of the board's calendar."""
    return query.where(
        extract("year", Notice.published_on) == year,
        extract("month", Notice.published_on) == month,
    )


def published_between(query, date_from=None, date_to=None):
    """Narrow a listing to notices published from ``date_from`` to ``date_to`` (inclusive)."""
    if date_from:
        query = query.where(Notice.published_on >= date_from)
    if date_to:
        query = query.where(Notice.published_on <= date_to)
    return query


def archive_months(today, kind=None):
    """Return [(year, month, count)] of archived notices, newest month first."""
    archived = listing("archived", today, kind).subquery()
    year = extract("year", archived.c.published_on).label("year")
    month = extract("month", archived.c.published_on).label("month")
    rows = db.session.execute(
        db.select(year, month, func.count()).group_by(year, month).order_by(year.desc(), month.desc())
    )
    return [(int(y), int(m), n) for y, m, n in rows]


def counts(status, today):
    """Return {type code: number of public notices in ``status``}."""
    return kind_counts(listing(status, today))


def kind_counts(query):
    """Return {type code: number of notices} of a listing."""
    listed = query.order_by(None).subquery()
    rows = db.session.execute(db.select(listed.c.kind, func.count()).group_by(listed.c.kind))
    return dict(rows.all())


def page_number(raw):
    """Return the page a ``?page=`` asks for: its number, or 1 for anything not above 0."""
    if raw and raw.isascii() and raw.isdigit() and int(raw) >= 1:
        return int(raw)
    return 1


def last_page(total, per_page):
    """Return the number of the last page of ``total`` items: 1 when there are none."""
    return max(1, -(-total // per_page))


def paginate(query, page, per_page):
    """Return one page of a listing, or answer 404 if the listing has no such page.

    The page is checked against the count before any row is read: past the last page it
    would reach the database as an OFFSET, and one too large for SQLite's integers fails.
    """
    total = db.session.scalar(
        db.select(func.count()).select_from(query.order_by(None).subquery())
    )
    if page > last_page(total, per_page):
        abort(404)
    pagination = db.paginate(query, page=page, per_page=per_page, count=False)
    pagination.total = total
    return pagination


def public_notices(batch=500):
    """Yield every public notice, a batch at a time, for rebuilding the index."""
    query = (
        db.select(Notice)
        .where(Notice.status.in_(PUBLIC_STATUSES), current_clause())
        .order_by(Notice.id)
        .options(selectinload(Notice.items), selectinload(Notice.corrections))
        .execution_options(yield_per=batch)
    )
    yield from db.session.scalars(query)


def public_count():
    return db.select(func.count(Notice.id)).where(Notice.status.in_(PUBLIC_STATUSES))


def public_state():
    """Return {ref: (status, window_end)} of every public notice: what the index must hold."""
    rows = db.session.execute(
        db.select(Notice.ref, Notice.status, Notice.window_end).where(
            Notice.status.in_(PUBLIC_STATUSES), current_clause()
        )
    )
    return {ref: (status, end) for ref, status, end in rows}


@dataclass
class Declared:
    """One public declaration voiding a looked-up number, as the lookup shows it: masked."""

    notice: Notice
    document_type: str
    document_type_name: str
    document_number: str
    owner_name: str
    declarant: str
    state: str
    status_line: str


def lost_documents(number, today):
    """Return the public declarations voiding ``number`` (already normalized), newest first.

    Matched by keyed hash: a published item keeps only the number's public form and hash.
    """
    items = db.session.scalars(
        db.select(LossItem)
        .join(LossItem.notice)
        .where(
            LossItem.number_hash == documents.number_hash(number),
            Notice.status.in_(PUBLIC_STATUSES),
            current_clause(),
        )
        .order_by(Notice.published_at.desc())
    ).all()
    return [_declared(item, today) for item in items]


def _declared(item, today):
    notice = item.notice
    mask = documents.mask_id_numbers
    return Declared(
        notice=notice,
        document_type=item.document_type,
        document_type_name=mask(item.document_type_name),
        document_number=item.masked_number,
        owner_name=mask(item.owner_name),
        declarant=mask(notice.fields["declarant"]),
        state=expiry.public_state(notice.status, notice.window_end, today),
        status_line=status_line(notice, today),
    )


def in_rank_order(refs):
    """Return the public notices with these refs, in the order given."""
    if not refs:
        return []
    # Looked up by ref alone, the status checked here: given "status IN (…)" as well, SQLite
    # chose the status index for a list of refs and read every public notice (1.8 s at
    # 100,000 notices) instead of twenty rows by their unique ref.
    rows = db.session.scalars(
        db.select(Notice).where(Notice.ref.in_(refs)).options(selectinload(Notice.items))
    )
    by_ref = {n.ref: n for n in rows if n.status in PUBLIC_STATUSES}
    return [by_ref[ref] for ref in refs if ref in by_ref]


def current_clause():
    """Return the SQL condition that keeps notices no public correction supersedes.

    A corrected notice stays at its permalink, but listings, feeds, search and lookups show
    its correction in its place (notices/corrections.py).
    """
    later = aliased(Notice)
    return ~exists().where(later.corrects_id == Notice.id, later.status.in_(PUBLIC_STATUSES))
