"""The PostgreSQL engine: notices searched in the board's own database.

A board on several servers cannot keep a Whoosh folder per server: each would index what its
own drain took from the outbox. Here the index is a table, ``search_document``, one row per
public notice, written by the services in the transaction that publishes or revokes the
notice, so every server sees a change the moment it commits.

What a row holds, and how a search reads it (measured at 100,000 notices in the lab study of
issue 12: recall and precision 1.00 on the labelled queries, p95 at most 21 ms in every class
of query):

- ``document``, a ``tsvector`` of the notice's character bigrams (and single-character runs),
  its jieba words and its document numbers, each at the character offset where it starts in
  ``public_text``. It is written as a tsvector literal, not through ``to_tsvector``: both
  analyses are ours (``analysis``), and the literal keeps them as they are, as the ``simple``
  configuration would, without PostgreSQL's parser splitting Han text its own way. Weights
  say where a lexeme comes from: A a document number, B the title, C a word of the text,
  D a bigram of the text. A GIN index serves ``@@``.
- ``public_text``, the title and text as the public sees them, masked and lower-cased: a
  query's bigrams find candidates in the GIN index, and ``strpos`` on this text keeps those
  that hold each typed run as a substring. ``strpos``, not ``LIKE``: given ``LIKE``, the
  planner also used a trigram index, and four-character queries' p95 rose to 64 ms.
- the status, window end, type, issuer and publication date, for the filters; whether a
  notice is active is decided per query from ``window_end``, so expiry writes nothing.

Ranking: ``ts_rank_cd`` (cover density: how close together the matched lexemes are, weighted
by where they are) of the query's lexemes, so a match in the title or on a document number
comes first; then the most recently published; then the reference, so pages never overlap.

Every value a person typed reaches the database as a bound parameter: the tsquery is a
literal of quoted lexemes (only the runs ``analysis`` finds, quotes escaped all the same),
cast by PostgreSQL, and the runs rechecked are parameters of ``strpos``.
"""
import logging
from contextlib import contextmanager

from notices import wording
from notices.documents import number_hash
from notices.search.analysis import as_number
from notices.search.analysis import grams
from notices.search.analysis import highlight_words
from notices.search.analysis import runs
from notices.search.analysis import searchable
from notices.search.analysis import typed_words
from notices.search.analysis import words
from notices.search.engine import TEXT_VERSION
from notices.search.engine import Hit
from notices.search.engine import Results
from notices.search.engine import public_document

log = logging.getLogger(__name__)

# A lexeme keeps at most this many positions in a tsvector (PostgreSQL's limit is 256).
MAX_POSITIONS = 255
# Rows written per transaction by a rebuild or a drain: each transaction holds the board's
# write lock, so other writers wait at most one batch's analysis.
BATCH = 200

_UPSERT = """
INSERT INTO search_document
    (ref, kind, status, issuer, published_on, window_end, text_version, public_text, document)
VALUES
    (:ref, :kind, :status, :issuer, :published_on, :window_end, :text_version, :public_text,
     CAST(:document AS tsvector))
ON CONFLICT (ref) DO UPDATE SET
    kind = excluded.kind, status = excluded.status, issuer = excluded.issuer,
    published_on = excluded.published_on, window_end = excluded.window_end,
    text_version = excluded.text_version, public_text = excluded.public_text,
    document = excluded.document
"""


def _db():
    from notices.extensions import db

    return db


def _sql(statement):
    return _db().text(statement)


# --- writing ----------------------------------------------------------------------------------

def _quote(lexeme):
    """Return ``lexeme`` quoted for a tsvector or tsquery literal."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def vector(title, text, numbers):
    """Return the tsvector literal of a notice: its bigrams and words at their character
    offsets in ``public_text`` (title, newline, text), and its document numbers' keyed
    hashes."""
    positions = {}

    def add(lexeme, at, weight):
        kept = positions.setdefault(lexeme, [])
        if len(kept) < MAX_POSITIONS:
            # Positions start at 1. PostgreSQL clamps those past 16,383, where a phrase could
            # no longer be told in order; the longest notice the forms take (a call's 10,000
            # characters of description and 2,000 of requirements, worded) stays below.
            kept.append(f"{at + 1}{weight}")

    offset = len(searchable(title)) + 1
    for part, start, gram_weight, word_weight in ((title, 0, "B", "B"), (text, offset, "D", "C")):
        for gram, _pos, at, _end in grams(part):
            add(gram, start + at, gram_weight)
        for word, _pos, at, _end in words(part):
            add(word, start + at, word_weight)
    for number in numbers:
        add(number, 0, "A")
    return " ".join(f"{_quote(lexeme)}:{','.join(at)}" for lexeme, at in positions.items())


def _row(notice, today):
    """Return the ``search_document`` row of a public notice, or None if it is not public."""
    doc = public_document(notice, today)
    if doc is None:
        return None
    text = doc["grams"][len(doc["title"]) + 1 :]
    numbers = doc["numbers"].split()
    return {
        "ref": notice.ref,
        "kind": notice.kind,
        "status": notice.status,
        "issuer": doc["issuer"],
        "published_on": notice.published_on,
        "window_end": notice.window_end,
        "text_version": TEXT_VERSION,
        "public_text": searchable(doc["title"]) + "\n" + searchable(text),
        "document": vector(doc["title"], text, numbers),
    }


def _write(connection, notices, today):
    """Write the rows of ``notices`` ({ref: Notice or None}): current ones upserted, others
    (not public, or superseded by a correction) removed."""
    rows = [row for notice in notices.values() if (row := _row(notice, today)) is not None]
    gone = [ref for ref, notice in notices.items() if notice is None or not notice.is_current]
    if rows:
        connection.execute(_sql(_UPSERT), rows)
    if gone:
        connection.execute(_sql("DELETE FROM search_document WHERE ref = ANY(:refs)"), {"refs": gone})


def record(notice, now):
    """Write ``notice``'s row in the caller's transaction (which changed it), or remove it.

    The transaction holds the board's write lock, so no other writer's row for the notice
    can come between; the change and its search row commit together.
    """
    from notices import expiry

    db = _db()
    # The transition's UPDATE went around the session: read the notice as it now is.
    db.session.refresh(notice)
    _write(db.session.connection(), {notice.ref: notice}, expiry.board_today(now))


def init_app(app):
    """Refuse a database this engine cannot use."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not str(url).startswith("postgresql"):
        raise RuntimeError(
            "SEARCH_ENGINE = 'postgresql' searches in a PostgreSQL database, and this board's "
            f"database is {str(url).split(':', 1)[0]}: set FLASK_SEARCH_ENGINE=whoosh, or use "
            "PostgreSQL"
        )


def location():
    """Return where the index is: a table of the board's database."""
    return "the search_document table of the database"


def prepare_index():
    """Nothing to prepare: the migrations made the table."""


def create_index():
    """Empty the table (a rebuild fills it again)."""
    db = _db()
    db.session.execute(_sql("DELETE FROM search_document"))
    db.session.commit()


def forget_readers():
    """Nothing is kept between searches."""


@contextmanager
def held(timeout=60):
    """Nothing to hold: a bulk import's outbox rows are indexed by its own drain at the end,
    as no web request drains them on this engine (see :func:`drain_quietly`)."""
    yield


def _notices(refs):
    """Return {ref: Notice or None} of ``refs`` as the database has them now."""
    from sqlalchemy.orm import selectinload

    from notices.models import Notice

    db = _db()
    found = db.session.scalars(
        db.select(Notice).where(Notice.ref.in_(list(refs))).options(selectinload(Notice.items))
    )
    by_ref = {notice.ref: notice for notice in found}
    return {ref: by_ref.get(ref) for ref in refs}


def drain(limit=BATCH):
    """Write the rows the outbox asks for (a bulk import's), a batch per transaction; return
    how many outbox rows were settled.

    The services write their rows themselves; only a bulk import leaves its notices in the
    outbox, to be indexed once the whole file is in.
    """
    from notices import expiry
    from notices.models import IndexOutbox

    db = _db()
    done = 0
    while True:
        # The transaction holds the board's write lock from its first statement: no other
        # writer changes these notices before the rows are written and the outbox settled.
        rows = db.session.scalars(db.select(IndexOutbox).order_by(IndexOutbox.id).limit(limit)).all()
        if not rows:
            db.session.commit()
            return done
        today = expiry.board_today(expiry.utcnow())
        _write(db.session.connection(), _notices({row.ref for row in rows}), today)
        db.session.execute(db.delete(IndexOutbox).where(IndexOutbox.id.in_([r.id for r in rows])))
        db.session.commit()
        done += len(rows)


def drain_quietly():
    """Nothing waits after a commit: the services wrote their rows in it."""


def move_expired(today):
    """Nothing moves: whether a notice is active is read from its window's end per query."""
    return 0


def reindex(notices, progress=None):
    """Rewrite every row from ``notices``, an iterable that reads the database lazily; return
    how many notices were read.

    The notices are read in one snapshot, outside the board's write lock, and analysed there
    (the slow part); each batch of rows is written in a short transaction of its own that
    holds the lock, and takes the status from the database as it is then, so a notice revoked
    since the snapshot is not written back as published. Notices approved since the snapshot
    wrote their own rows. Last, rows of notices no longer public go, and the outbox rows the
    snapshot covered are settled (ids are in commit order under the write lock).
    """
    from notices import expiry
    from notices.extensions import reading
    from notices.models import IndexOutbox

    db = _db()
    reading()
    settled = db.session.scalar(db.select(db.func.max(IndexOutbox.id)))
    today = expiry.board_today(expiry.utcnow())
    count, batch = 0, []
    for notice in notices:
        row = _row(notice, today)
        if row is not None:
            batch.append(row)
        count += 1
        if progress:
            progress(1)
        if len(batch) >= BATCH:
            _write_batch(batch)
            batch = []
    _write_batch(batch)
    db.session.commit()
    # A connection of its own: the caller's session may still be reading.
    with db.engine.begin() as connection:
        connection.execute(_sql(
            "DELETE FROM search_document d WHERE NOT EXISTS ("
            " SELECT 1 FROM notice n WHERE n.ref = d.ref AND n.status IN ('published', 'revoked')"
            # Nor those a public correction supersedes (board.current_clause).
            " AND NOT EXISTS (SELECT 1 FROM notice c WHERE c.corrects_id = n.id"
            " AND c.status IN ('published', 'revoked')))"
        ))
        if settled is not None:
            connection.execute(db.delete(IndexOutbox).where(IndexOutbox.id <= settled))
        # The planner chooses between the GIN index and the open windows' index by these
        # statistics; a rebuilt table should not wait for autovacuum to have them.
        connection.execute(_sql("ANALYZE search_document"))
    return count


def _write_batch(rows):
    """Upsert ``rows`` read in an older snapshot, each with its notice's status as it is now."""
    if not rows:
        return
    db = _db()
    # A connection of its own: the session streams the snapshot's notices meanwhile.
    with db.engine.begin() as connection:
        connection.execute(_sql(_UPSERT), rows)
        connection.execute(_sql(
            "UPDATE search_document d SET status = n.status FROM notice n"
            " WHERE n.ref = d.ref AND d.ref = ANY(:refs) AND d.status <> n.status"
        ), {"refs": [row["ref"] for row in rows]})


def text_version():
    """Return the oldest version of public text a row was made from; 0 if public notices have
    no rows at all (a board that searched with Whoosh until now)."""
    db = _db()
    oldest = db.session.scalar(_sql("SELECT min(text_version) FROM search_document"))
    if oldest is not None:
        return oldest
    from notices import board

    return 0 if db.session.scalar(board.public_count()) else TEXT_VERSION


def indexed():
    """Return {ref: (status, window_end as YYYYMMDD)} of every row, as the Whoosh engine's."""
    rows = _db().session.execute(_sql("SELECT ref, status, window_end FROM search_document"))
    return {ref: (status, _day(end)) for ref, status, end in rows}


def _day(d):
    return d.year * 10000 + d.month * 100 + d.day


def check(public):
    """Compare the rows with ``public``: {ref: (status, window_end date)}; return differences.

    Each ref has at most one row (its primary key); every public notice must have one, with
    its status and window, made from the public text pages show now.
    """
    db = _db()
    differences = []
    rows = db.session.execute(_sql(
        "SELECT ref, status, window_end, text_version FROM search_document"
    )).all()
    stale = sum(1 for *_, version in rows if version != TEXT_VERSION)
    if stale:
        differences.append(
            f"{stale} rows hold public text of an older version than pages show "
            f"({TEXT_VERSION}): run flask reindex"
        )
    in_table = {ref: (status, end) for ref, status, end, _ in rows}
    for ref in sorted(public.keys() - in_table.keys()):
        differences.append(f"{ref}: in the database, missing from the index")
    for ref in sorted(in_table.keys() - public.keys()):
        differences.append(f"{ref}: in the index, not public in the database")
    for ref in sorted(public.keys() & in_table.keys()):
        if public[ref] != in_table[ref]:
            differences.append(f"{ref}: index has {in_table[ref]}, database {public[ref]}")
    return differences


# --- queries ----------------------------------------------------------------------------------

class _Query:
    """A search as SQL: a tsquery literal finding candidates in the GIN index, and the
    recheck each must pass, with the parameters both need."""

    def __init__(self):
        self.params = {}
        self.clauses = []  # tsquery literals, all required
        self.rechecks = []  # SQL conditions, all required

    def param(self, value):
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def substring(self, text, exact):
        """Return (tsquery, recheck) matching each run of ``text`` as a substring, or None.

        The bigrams of a run are consecutive (``<->``) where ``exact``, else only all
        present: ``strpos`` checks the run itself either way.
        """
        found = runs(text)
        if not found:
            return None
        terms, checks = [], []
        for run in found:
            pairs = [gram for gram, *_ in grams(run)]
            if len(pairs) == 1 and len(pairs[0]) == 1:
                # One character: the bigrams it begins (and itself, a run of one).
                terms.append(_quote(pairs[0]) + ":*")
            elif exact:
                terms.append("(" + " <-> ".join(_quote(g) for g in pairs) + ")")
            else:
                terms.append("(" + " & ".join(_quote(g) for g in dict.fromkeys(pairs)) + ")")
            checks.append(f"strpos(d.public_text, {self.param(run)}) > 0")
        return " & ".join(terms), " AND ".join(checks)

    def word(self, word):
        """Return (tsquery, recheck) for one typed word: a substring, the jieba words typed
        without spaces, or a document number; None if it can match nothing."""
        options = []
        if number := as_number(word):
            lexeme = _quote(number_hash(number)) + ":A"
            options.append((lexeme, f"d.document @@ CAST({self.param(lexeme)} AS tsquery)"))
        # Digits and letters repeat in every phone and masked number: their bigrams are
        # looked for in order, as Whoosh's engine does.
        if (whole := self.substring(word, exact=word.isascii())) is not None:
            options.append(whole)
        pieces = list(dict.fromkeys(w for w, *_ in words(word) if len(w) > 1 or not w.isascii()))
        if len(pieces) > 1:
            # Typed without spaces (西藏路桥工资): every jieba word must appear, anywhere.
            parts = [p for p in (self.substring(piece, exact=False) for piece in pieces) if p]
            if parts:
                options.append((
                    " & ".join(f"({t})" for t, _ in parts),
                    " AND ".join(f"({c})" for _, c in parts),
                ))
        if not options:
            return None
        return " | ".join(f"({t})" for t, _ in options), " OR ".join(f"({c})" for _, c in options)

    def add(self, found):
        if found is not None:
            tsquery, recheck = found
            self.clauses.append(f"({tsquery})")
            self.rechecks.append(f"({recheck})")

    def where(self):
        """Return the SQL condition of a match; the tsquery is parameter ``tsquery``."""
        self.params["tsquery"] = " & ".join(self.clauses)
        return "d.document @@ CAST(:tsquery AS tsquery) AND " + " AND ".join(self.rechecks)


def build_query(q):
    """Return (:class:`_Query` or None, highlight words) for the text a person typed."""
    phrases, typed = typed_words(q)
    query = _Query()
    for phrase in phrases:
        query.add(query.substring(phrase, exact=True))
    for word in typed:
        query.add(query.word(word))
    if not query.clauses:
        return None, []
    return query, highlight_words(phrases, typed)


def _filters(query, status, today, date_from, date_to, issuer):
    """Return the SQL conditions of the filters other than the type."""
    conditions = []
    if status == "active":
        conditions.append(f"d.status = 'published' AND d.window_end >= {query.param(today)}")
    elif status == "archived":
        conditions.append(f"(d.status = 'revoked' OR d.window_end < {query.param(today)})")
    if date_from:
        conditions.append(f"d.published_on >= {query.param(date_from)}")
    if date_to:
        conditions.append(f"d.published_on <= {query.param(date_to)}")
    if issuer:
        conditions.append(f"d.issuer = {query.param(wording.visible(issuer))}")
    return conditions


def search(q, *, today, kind=None, status="active", date_from=None, date_to=None,
           issuer=None, sort="relevance", page=1, per_page=20):
    """Return :class:`Results`: refs in rank order for one page, the total and type facets."""
    db = _db()
    if (q or "").strip():
        query, highlight = build_query(q)
        if query is None:
            # Only punctuation or symbols: nothing to look for.
            return Results(hits=[], total=0, words=[])
        conditions = [query.where()]
        score = "ts_rank_cd(d.document, CAST(:tsquery AS tsquery))"
    else:
        # No words, only filters (an issuer's notices): every notice passes the query.
        query, highlight = _Query(), []
        conditions, score = [], "0.0"
    conditions += _filters(query, status, today, date_from, date_to, issuer)
    where = " AND ".join(conditions) or "TRUE"
    facets = dict(db.session.execute(_sql(
        f"SELECT d.kind, count(*) FROM search_document d WHERE {where} GROUP BY d.kind"
    ), query.params).all())
    total = facets.get(kind, 0) if kind else sum(facets.values())
    if kind:
        where += f" AND d.kind = {query.param(kind)}"
    if sort == "date":
        order = "d.published_on DESC, score DESC, d.ref"
    else:
        order = "score DESC, d.published_on DESC, d.ref"
    hits = []
    if total > (page - 1) * per_page:
        rows = db.session.execute(_sql(
            f"SELECT d.ref, {score} AS score FROM search_document d WHERE {where}"
            f" ORDER BY {order} LIMIT {query.param(per_page)} OFFSET {query.param((page - 1) * per_page)}"
        ), query.params)
        hits = [Hit(ref, float(score)) for ref, score in rows]
    return Results(hits=hits, total=total, facets=facets, words=highlight)
