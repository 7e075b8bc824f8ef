"""The day's column as the newspaper prints it: a PDF of the notices published on a day or a
range of days, typeset by WeasyPrint.

The column is grouped and headed by type in the order the newspaper prints them (kinds.KINDS),
each notice in its canonical wording as the public pages show it (pages.show: ID numbers
masked), with its reference and a QR code of its permalink. A notice revoked since is left out
of the column and named in a note at its end: a reprint must not present it as in force.

Typesetting a column costs about 35 ms of CPU a notice (a quarter of a second a page), so each worker keeps the
PDFs it made under the data generation, the board's day and the range (a bounded LRU, as
notices/pages.py keeps pages), and the routes that make them are rate limited.
"""
import hashlib
from dataclasses import dataclass
from datetime import date

import segno
from flask import current_app
from flask import render_template
from sqlalchemy.orm import selectinload

from notices import board
from notices import expiry
from notices import kinds
from notices import pages
from notices import urls
from notices.extensions import db
from notices.models import PUBLIC_STATUSES
from notices.models import Notice

# The earliest day a column may be asked for: before the board, and before any archive it
# imported, there is nothing to print.
FIRST_DAY = date(2000, 1, 1)


@dataclass
class Column:
    """The notices of a range of days as a column prints them."""

    date_from: date
    date_to: date
    # [(kind, [Shown, ...])] in the newspaper's order of types, types with no notice left out.
    groups: list
    # Notices published in the range and revoked since: named, not printed.
    revoked: list

    @property
    def count(self):
        return sum(len(shown) for _, shown in self.groups)


def published_between(date_from, date_to):
    """Return the SELECT of public notices published from ``date_from`` to ``date_to``, in the
    order a column prints them within a type: as they were published."""
    # A loss declaration's documents are part of its wording: loaded with the page, not one
    # query a notice.
    query = db.select(Notice).where(Notice.status.in_(PUBLIC_STATUSES)).options(
        selectinload(Notice.items))
    query = board.published_between(query, date_from, date_to)
    return query.order_by(Notice.published_at, Notice.id)


def grouped(notices, today):
    """Return [(kind, [Shown, ...])] of ``notices`` by type, in the newspaper's order."""
    by_kind = {code: [] for code in kinds.KINDS}
    for notice in notices:
        by_kind[notice.kind].append(pages.show(notice, today))
    return [(kinds.KINDS[code], shown) for code, shown in by_kind.items() if shown]


def column(date_from, date_to, today):
    """Return the :class:`Column` of the notices published from ``date_from`` to ``date_to``."""
    found = list(db.session.scalars(published_between(date_from, date_to)))
    printed = [n for n in found if n.status == "published"]
    revoked = [n for n in found if n.status != "published"]
    return Column(date_from, date_to, grouped(printed, today), revoked)


def count_between(date_from, date_to):
    """Return how many public notices were published from ``date_from`` to ``date_to``."""
    query = published_between(date_from, date_to).order_by(None).subquery()
    return db.session.scalar(db.select(db.func.count()).select_from(query))


def qr_data_uri(address):
    """Return a QR code of ``address`` as a PNG data URI, for the column's <img>.

    A PNG rather than SVG: WeasyPrint parses an SVG's path into hundreds of shapes, a tenth of
    a second per notice, where a PNG is one image. At 8 pixels a module and 16 mm wide it
    prints at about 330 dpi, each module a whole number of pixels.
    """
    return segno.make(address, error="m").png_data_uri(scale=8, border=0)


def render_html(col, today):
    """Return the column's HTML, as WeasyPrint typesets it."""
    return render_template(
        "print/column.html", column=col, today=today, qr_data_uri=qr_data_uri,
        permalink=lambda ref: urls.public_url("public.notice", ref=ref),
    )


def typeset(html):
    """Return the PDF bytes of the column's ``html``."""
    # Imported on the first PDF, not with the app: WeasyPrint and Pango take half a second
    # to load, which every worker's start would pay for a page few readers ask for.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    # The column carries its styles and QR codes inline (data: URIs); a typesetter that
    # followed any other address (file:///etc/…, a host inside the network) would be a hole.
    fetcher = URLFetcher(allowed_protocols={"data"}, allow_redirects=False)
    return HTML(string=html, url_fetcher=fetcher, base_url=None).write_pdf()


def init_app(app):
    app.extensions["print"] = pages.LRU(app.config["PRINT_CACHE_ENTRIES"],
                                        app.config["PRINT_CACHE_BYTES"])


def _key(date_from, date_to):
    """Return the key of a kept PDF, or None if the board has no data generation.

    Read before the column's own queries, as pages.serve reads it, so that nothing is kept
    under a generation newer than the data it was made from.
    """
    generation = board.generation()
    if generation is None:
        return None
    return (generation, expiry.board_today(expiry.utcnow()), date_from, date_to)


def is_kept(date_from, date_to):
    """Return whether this worker keeps the PDF of the range as of now."""
    key = _key(date_from, date_to)
    return key is not None and current_app.extensions["print"].get(key) is not None


def pdf(date_from, date_to):
    """Return ``(bytes, made)``: the PDF of the column from ``date_from`` to ``date_to`` as of
    the board's today, kept in this worker under the data generation, and whether it was
    typeset for this call (False: it was kept)."""
    key = _key(date_from, date_to)
    cache = current_app.extensions["print"]
    kept = cache.get(key) if key is not None else None
    if kept is not None:
        return kept, False
    # The day the key names, so that a PDF made across midnight is kept under its own day.
    today = key[1] if key is not None else expiry.board_today(expiry.utcnow())
    made = typeset(render_html(column(date_from, date_to, today), today))
    if key is not None:
        cache.put(key, made, len(made))
    return made, True


def etag(body):
    """Return the entity tag of a PDF's bytes."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()

