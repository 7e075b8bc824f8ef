"""Full-text search of published notices: the only module that imports Whoosh.

Two analyses of the same text, chosen by measuring recall and precision on the labelled
queries in tests/test_search.py:

- ``words``: jieba's segmentation (precise mode, plus the dictionary words inside long
  words, as its search mode does) for Han text; Tibetan split into syllables at the tsheg;
  Latin letters and digits as lower-case words. Positions count words, so nothing breaks
  phrase scoring the way jieba's stock ChineseAnalyzer (character offsets as positions) does.
- ``grams``: overlapping character bigrams at character positions. A phrase of bigrams is an
  exact substring match, which finds 工资 in 民工工资 and a name jieba cut in two (扎/西央/珍).

Queries are built from the person's words as data, never parsed as Whoosh syntax.

The database is the source of truth. Services write an outbox row in the transaction that
publishes or revokes a notice; :func:`drain` moves outbox rows into the index under the
index's own lock, in whichever process gets it first, so concurrent workers never lose an
update to a LockError and a killed worker leaves its rows for the next drain.
"""
import logging
import os
import re
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field

import jieba
from markupsafe import Markup
from markupsafe import escape
from whoosh import index as whoosh_index
from whoosh import query as Q
from whoosh import sorting
from whoosh.analysis import Token
from whoosh.analysis import Tokenizer
from whoosh.fields import ID
from whoosh.fields import KEYWORD
from whoosh.fields import NUMERIC
from whoosh.fields import TEXT
from whoosh.fields import Schema
from whoosh.index import LockError
from whoosh.scoring import BM25F
from whoosh.util.filelock import try_for
from whoosh.writing import CLEAR

from notices import documents
from notices import wording

log = logging.getLogger(__name__)
jieba.setLogLevel(logging.WARNING)

# Longer queries are cut here: nobody remembers 200 characters of a notice, and Whoosh's
# parser and phrase matching grow slow on very long input.
MAX_QUERY = 200
MAX_WORDS = 12

_RUNS = re.compile(
    r"(?P<han>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)"
    r"|(?P<tibetan>[\u0f00-\u0fff]+)"
    r"|(?P<latin>[0-9A-Za-z]+)"
)
_TSHEG = re.compile(r"[\u0f0b-\u0f14\s]+")
_NUMBER = re.compile(r"[A-Z0-9-]{6,40}")


def _runs(text):
    """Yield (kind, run, start) for each Han, Tibetan or Latin/digit run of ``text``."""
    for match in _RUNS.finditer(text):
        yield match.lastgroup, match.group(), match.start()


def _analysed(text):
    """Return ``text`` as both analyses read it: compatibility forms folded (ｗ is w), and
    invisible characters gone, so that 西藏\u200b开发 is indexed and looked for as 西藏开发."""
    return wording.visible(unicodedata.normalize("NFKC", text))


def words(text):
    """Yield (word, position, start, end) as the ``words`` field indexes ``text``."""
    text = _analysed(text)
    pos = 0
    for kind, run, offset in _runs(text):
        if kind == "han":
            for word, start, end in jieba.tokenize(run):
                if len(word) > 2:
                    # jieba's search mode adds the dictionary words inside a long word
                    # (有限 and 公司 inside 有限公司); they share the long word's position.
                    for n in (2, 3):
                        for i in range(len(word) - n + 1):
                            gram = word[i : i + n]
                            if gram != word and jieba.dt.FREQ.get(gram):
                                yield gram, pos, offset + start + i, offset + start + i + n
                yield word, pos, offset + start, offset + end
                pos += 1
        elif kind == "tibetan":
            at = 0
            for syllable in _TSHEG.split(run):
                if syllable:
                    at = run.index(syllable, at)
                    yield syllable, pos, offset + at, offset + at + len(syllable)
                    at += len(syllable)
                    pos += 1
        else:
            yield run.lower(), pos, offset, offset + len(run)
            pos += 1


def grams(text):
    """Yield (gram, position, start, end): overlapping character bigrams of every run.

    A run of one character is indexed as itself, so a one-character name still matches.
    """
    text = _analysed(text).lower()
    for _kind, run, offset in _runs(text):
        if len(run) == 1:
            yield run, offset, offset, offset + 1
        for i in range(len(run) - 1):
            yield run[i : i + 2], offset + i, offset + i, offset + i + 2


class _Tokenizer(Tokenizer):
    """Adapts one of the generators above to Whoosh's token stream."""

    def __init__(self, split):
        self.split = split

    def __eq__(self, other):
        return type(other) is type(self) and other.split is self.split

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, mode="", **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for text, pos, start, end in self.split(value):
            token.text = token.original = text
            token.boost = 1.0
            token.stopped = False
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar, token.endchar = start_char + start, start_char + end
            yield token


SCHEMA = Schema(
    ref=ID(unique=True, stored=True),
    # Sortable: counting matches per type reads a column instead of walking every term.
    kind=ID(stored=True, sortable=True),
    # "published" or "revoked"; whether a published notice is active is decided per query.
    status=ID(stored=True),
    issuer=ID(stored=True),
    published_on=NUMERIC(bits=32, sortable=True, stored=True),
    window_end=NUMERIC(bits=32, stored=True),
    title=TEXT(analyzer=_Tokenizer(words), field_boost=2.0),
    words=TEXT(analyzer=_Tokenizer(words)),
    grams=TEXT(analyzer=_Tokenizer(grams), phrase=True),
    # Full document numbers, upper-case: exact matches only, never stored or shown.
    numbers=KEYWORD(lowercase=False, commas=False),
)


def _day(d):
    return d.year * 10000 + d.month * 100 + d.day


@dataclass
class Hit:
    ref: str
    score: float


@dataclass
class Results:
    hits: list
    total: int
    facets: dict = field(default_factory=dict)
    words: list = field(default_factory=list)


# --- the index ------------------------------------------------------------------------------

_indexes = {}


def init_app(app):
    """Remember where the app's index lives; create it on first use."""
    app.extensions["search_index_dir"] = app.config["SEARCH_INDEX_DIR"]
    use_dictionary_cache(app.instance_path)


def use_dictionary_cache(folder):
    """Keep jieba's dictionary cache in ``folder`` (the instance folder).

    jieba loads the cache it finds without asking who wrote it (marshal data), by default
    from the shared temporary folder, where anyone on the machine could leave one first.
    """
    os.makedirs(folder, exist_ok=True)
    jieba.dt.tmp_dir = folder


def _dir():
    from flask import current_app

    return current_app.extensions["search_index_dir"]


def open_index(create=False):
    """Return the app's Whoosh index, creating an empty one if there is none (or if asked)."""
    path = _dir()
    # Once open, an index is not looked for again: another process committing to it
    # replaces its table of contents, and a look at that moment can find none.
    if create or (path not in _indexes and not whoosh_index.exists_in(path)):
        os.makedirs(path, exist_ok=True)
        _indexes[path] = whoosh_index.create_in(path, SCHEMA)
        _write_text_version(path)
    elif path not in _indexes:
        _indexes[path] = whoosh_index.open_dir(path)
    return _indexes[path]


# What public text the index is made from. Raise it when what pages show changes in a way the
# index must follow: version 2 masks ID numbers to 4 + 1 characters (version 1 indexed the 6 + 4
# of older pages, so a search for those digits still found them) and drops invisible characters.
# `flask init-db`, run on every upgrade, rebuilds an index of an older version.
TEXT_VERSION = 2
_VERSION_FILE = "board-text-version"


def _write_text_version(path):
    tmp = os.path.join(path, f"{_VERSION_FILE}.{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(str(TEXT_VERSION))
    os.replace(tmp, os.path.join(path, _VERSION_FILE))


def text_version():
    """Return the version of public text the index was built from (1 if it never said)."""
    try:
        with open(os.path.join(_dir(), _VERSION_FILE)) as f:
            return int(f.read().strip() or 1)
    except (FileNotFoundError, ValueError):
        return 1


def create_index():
    """Create an empty index, replacing any that exists."""
    return open_index(create=True)


def document(notice, shown):
    """Return the index document for a public notice as the public sees it."""
    numbers = " ".join(item.document_number for item in notice.items)
    return {
        "ref": notice.ref,
        "kind": notice.kind,
        "status": notice.status,
        "issuer": notice.kind_def.issuer(notice.fields),
        "published_on": _day(notice.published_on),
        "window_end": _day(notice.window_end),
        "title": shown.title,
        "words": shown.text.plain(),
        "grams": shown.title + "\n" + shown.text.plain(),
        "numbers": numbers,
    }


def _document_if_public(notice, today):
    from notices import board

    if notice is None or not notice.is_public:
        return None
    return document(notice, board.show(notice, today))


def drain(limit=500):
    """Index what the outbox holds, if no other process is doing so; return rows indexed.

    The index lock is tried, not waited for: a process holding it re-reads the outbox after
    every commit, so a row added meanwhile is never stranded.
    """
    from notices import expiry
    from notices.extensions import db
    from notices.models import IndexOutbox
    from notices.models import Notice

    done = 0
    ix = open_index()
    while True:
        rows = db.session.scalars(db.select(IndexOutbox).order_by(IndexOutbox.id).limit(limit)).all()
        writer = _writer_if_free(ix) if rows else None
        if writer is None:
            db.session.commit()
            return done
        try:
            today = expiry.board_today(expiry.utcnow())
            ids = [row.id for row in rows]
            documents = {}
            for ref in dict.fromkeys(row.ref for row in rows):
                notice = db.session.scalar(db.select(Notice).where(Notice.ref == ref))
                documents[ref] = _document_if_public(notice, today)
            # End the transaction before the slow part: the index writes below must not
            # keep other writers waiting for the database.
            db.session.commit()
            for ref, doc in documents.items():
                writer.delete_by_term("ref", ref)
                if doc is not None:
                    writer.add_document(**doc)
            writer.commit()
        except BaseException:
            writer.cancel()
            raise
        db.session.execute(db.delete(IndexOutbox).where(IndexOutbox.id.in_(ids)))
        db.session.commit()
        done += len(ids)


def _writer_if_free(ix):
    try:
        return _writer(ix, timeout=0)
    except LockError:
        return None


class IndexBusy(Exception):
    """Another process kept the index's write lock for longer than we could wait."""


# Index folders whose write lock this process holds through held().
_held = set()


def _writer(ix, timeout, **options):
    """Return a writer of ``ix``, taking its lock unless this process holds it already."""
    if _dir() not in _held:
        return ix.writer(timeout=timeout, **options)
    if options.get("procs", 1) > 1:
        # A multiprocess writer hands its own keywords on to its sub-writers, which never
        # lock and say so themselves: given _lk twice, they die and the commit is empty.
        options["subargs"] = {"limitmb": options.get("limitmb", 128)}
    return ix.writer(_lk=False, **options)


@contextmanager
def held(timeout=60):
    """Hold the index's write lock for the duration of a bulk change (an import).

    Every other process's drain finds the lock taken and leaves the outbox to the holder,
    which drains or rebuilds (both use the held lock) before it lets go: otherwise the first
    editor to publish something during a bulk load would index the load's rows, as fast as
    they come, inside a web request. Meanwhile the search is as it was when the lock was
    taken, as during a rebuild.
    """
    path = _dir()
    lock = open_index().lock("WRITELOCK")
    if not try_for(lock.acquire, timeout=timeout, delay=0.1):
        raise IndexBusy(f"the search index at {path} is being written by another process")
    _held.add(path)
    try:
        yield
    finally:
        _held.discard(path)
        lock.release()


def drain_quietly():
    """Drain after a commit; the notice is safe in the database whatever happens here."""
    try:
        drain()
    except Exception:
        log.exception("indexing failed; the outbox keeps the rows for the next drain")


def reindex(notices, progress=None):
    """Rebuild the index from ``notices``, an iterable that reads the database lazily; return
    how many were indexed.

    The index lock comes first and the database is read after it, in one snapshot: a drain
    that finished before the lock is in the snapshot, and one waiting for the lock comes
    after the rebuild, so no newer change is overwritten with an older one. Readers keep the
    old index until the new one is committed whole. Outbox rows the snapshot covers are
    removed; rows written meanwhile stay for the next drain.
    """
    from notices import expiry
    from notices.extensions import db
    from notices.extensions import reading
    from notices.models import IndexOutbox

    ix = open_index()
    if not _fields_match(ix.schema):
        # The code's fields changed: only a new index has them (nothing is lost, as the
        # database is re-read in full below).
        ix = create_index()
    writer = _writer(ix, timeout=60, limitmb=256, procs=2, multisegment=True)
    try:
        reading()
        settled = db.session.scalar(db.select(db.func.max(IndexOutbox.id)))
        today = expiry.board_today(expiry.utcnow())
        count = 0
        for notice in notices:
            doc = _document_if_public(notice, today)
            if doc is not None:
                writer.add_document(**doc)
            count += 1
            if progress:
                progress(1)
        # CLEAR: the new segments replace every old one in the same commit.
        writer.commit(mergetype=CLEAR)
    except BaseException:
        writer.cancel()
        raise
    _write_text_version(_dir())
    # The snapshot was read-only; the delete begins a write transaction of its own.
    db.session.commit()
    if settled is not None:
        db.session.execute(db.delete(IndexOutbox).where(IndexOutbox.id <= settled))
        db.session.commit()
    return count


def _fields_match(schema):
    return schema.names() == SCHEMA.names() and all(
        type(schema[name]) is type(SCHEMA[name]) for name in SCHEMA.names()
    )


def indexed():
    """Return {ref: (status, window_end)} of every document in the index."""
    with open_index().searcher() as searcher:
        return {
            fields["ref"]: (fields["status"], fields["window_end"])
            for fields in searcher.all_stored_fields()
        }


def check(public):
    """Compare the index with ``public``: {ref: (status, window_end date)}; return differences."""
    in_index = indexed()
    expected = {ref: (status, _day(end)) for ref, (status, end) in public.items()}
    differences = []
    if text_version() != TEXT_VERSION:
        differences.append(
            f"the index holds public text of version {text_version()}, pages show version "
            f"{TEXT_VERSION}: run flask reindex"
        )
    for ref in sorted(expected.keys() - in_index.keys()):
        differences.append(f"{ref}: in the database, missing from the index")
    for ref in sorted(in_index.keys() - expected.keys()):
        differences.append(f"{ref}: in the index, not public in the database")
    for ref in sorted(expected.keys() & in_index.keys()):
        if expected[ref] != in_index[ref]:
            differences.append(f"{ref}: index has {in_index[ref]}, database {expected[ref]}")
    return differences


# --- queries -----------------------------------------------------------------------------

def split_query(q):
    """Return the person's query as (phrases, words): quoted parts kept whole, the rest split.

    Everything is data: quotes only group, and operators, brackets, field prefixes and
    wildcards are ordinary characters that analysis drops or searches for.
    """
    q = _analysed(q or "")[:MAX_QUERY]
    q = q.replace("“", '"').replace("”", '"').replace("「", '"').replace("」", '"')
    phrases = [p.strip() for p in re.findall(r'"([^"]*)"', q) if p.strip()]
    rest = re.sub(r'"[^"]*"?', " ", q)
    words = [w for w in re.split(r"[\s,,、;;。]+", rest) if w]
    return phrases[:MAX_WORDS], words[: MAX_WORDS - min(len(phrases), MAX_WORDS)]


def _substring(text, exact=True):
    """Return the query matching ``text`` as a substring (bigram phrase), or None.

    Without ``exact``, the bigrams need only all appear: checking their positions is most of
    a query's cost on common words, and typed words of a few characters whose pairs all
    occur in one notice almost always occur together. Quoted phrases stay exact.
    """
    parts = list(grams(text))
    if not parts:
        return None
    if len(parts) == 1:
        gram = parts[0][0]
        if len(gram) == 1:
            return Q.Prefix("grams", gram)
        return Q.Term("grams", gram)
    # Bigrams of one run sit at consecutive positions; across runs (中文 abc) they do not,
    # so each run is a phrase of its own.
    runs, current, last = [], [], None
    for gram, pos, _start, _end in parts:
        if last is not None and pos != last + 1:
            runs.append(current)
            current = []
        current.append(gram)
        last = pos
    runs.append(current)
    if not exact:
        grams_needed = list(dict.fromkeys(gram for run in runs for gram in run))
        return Q.And([Q.Term("grams", gram) for gram in grams_needed])
    clauses = [Q.Phrase("grams", run) if len(run) > 1 else Q.Term("grams", run[0]) for run in runs]
    return clauses[0] if len(clauses) == 1 else Q.And(clauses)


def _as_number(text):
    """Return ``text`` as a document number the ``numbers`` field may hold, or None."""
    number = documents.normalize_number(text)
    if _NUMBER.fullmatch(number) and sum(c.isdigit() for c in number) >= 5:
        return number
    return None


def _typed(q):
    """Return (phrases, words) of a query, a document number typed in groups made one word."""
    phrases, typed = split_query(q)
    if len(typed) > 1 and (number := _as_number(" ".join(typed))):
        # A document number typed in groups (5401 0219 …) is one number.
        typed = [number]
    return phrases, typed


def numbers_in(q):
    """Return the document numbers a query looks up exactly.

    Such a search answers "declared or not" as the lost-document lookup does, so it is limited
    as that is (see ``notices.lookups``).
    """
    return [number for word in _typed(q)[1] if (number := _as_number(word))]


def _word_query(word):
    """Return the query for one typed word: a substring, its jieba words, or a document number."""
    options = []
    if number := _as_number(word):
        options.append(Q.Term("numbers", number, boost=4.0))
    # Digits and letters repeat in every phone and masked number: only their exact sequence
    # means anything, so they keep their positions.
    whole = _substring(word, exact=word.isascii())
    if whole is not None:
        options.append(Q.Or([whole, Q.Term("words", word.lower(), boost=2.0)]))
    pieces = [w for w, *_ in words(word) if len(w) > 1 or not w.isascii()]
    distinct = list(dict.fromkeys(pieces))
    if len(distinct) > 1:
        # Typed without spaces (西藏路桥工资): every jieba word must appear, anywhere.
        parts = [_substring(p, exact=False) for p in distinct]
        parts = [p for p in parts if p is not None]
        if parts:
            options.append(Q.And(parts, boost=0.5))
    if not options:
        return None
    return Q.Or(options) if len(options) > 1 else options[0]


def build_query(q):
    """Return (Whoosh query or None, highlight words) for the text a person typed."""
    phrases, typed = _typed(q)
    clauses, highlight = [], []
    for phrase in phrases:
        clause = _substring(phrase)
        if clause is not None:
            clauses.append(clause)
            highlight.append(phrase)
    for word in typed:
        clause = _word_query(word)
        if clause is not None:
            clauses.append(clause)
            highlight.append(word)
            highlight += [w for w, *_ in words(word) if len(w) > 1]
    if not clauses:
        return None, []
    return (Q.And(clauses) if len(clauses) > 1 else clauses[0]), list(dict.fromkeys(highlight))


def status_filter(status, today):
    """Return the filter for active, archived or all public notices on ``today``."""
    open_window = Q.NumericRange("window_end", _day(today), None)
    published = Q.Term("status", "published")
    if status == "active":
        return Q.And([published, open_window])
    if status == "archived":
        return Q.Or([Q.Term("status", "revoked"), Q.And([published, Q.Not(open_window)])])
    return None


def search(q, *, today, kind=None, status="active", date_from=None, date_to=None,
           issuer=None, sort="relevance", page=1, per_page=20):
    """Return :class:`Results`: refs in rank order for one page, the total and type facets."""
    if (q or "").strip():
        query, highlight = build_query(q)
        if query is None:
            # Only punctuation or symbols: nothing to look for.
            return Results(hits=[], total=0, words=[])
    else:
        # No words, only filters (an issuer's notices): every notice passes the query.
        query, highlight = Q.Every(), []
    filters = [f for f in (status_filter(status, today),) if f is not None]
    if date_from or date_to:
        filters.append(Q.NumericRange(
            "published_on", _day(date_from) if date_from else None, _day(date_to) if date_to else None
        ))
    if issuer:
        filters.append(Q.Term("issuer", wording.visible(issuer)))
    # Filters narrow the matches as a set of documents instead of taking part in scoring.
    base_filter = Q.And(filters) if filters else None
    final_filter = Q.And([*filters, Q.Term("kind", kind)]) if kind else base_filter
    options = {"groupedby": sorting.FieldFacet("kind")}
    if sort == "date":
        options["sortedby"] = sorting.FieldFacet("published_on", reverse=True)
    with open_index().searcher(weighting=BM25F()) as searcher:
        # One pass collects the page and the counts per type; with a type chosen, the counts
        # (of every type) need a second, unscored pass without that filter.
        found = searcher.search(query, filter=final_filter, limit=page * per_page, **options)
        grouped = found if not kind else searcher.search(
            query, filter=base_filter, limit=None, groupedby=sorting.FieldFacet("kind"), scored=False
        )
        facets = {code: len(docs) for code, docs in grouped.groups("kind").items()}
        start = (page - 1) * per_page
        hits = [Hit(hit["ref"], hit.score or 0.0) for hit in found[start : start + per_page]]
        return Results(hits=hits, total=len(found), facets=facets, words=highlight)


def highlight(text, words, width=None):
    """Return ``text`` escaped, with each occurrence of ``words`` in <mark>.

    Matches are substrings across two analyses, which Whoosh's own highlighter (one field's
    tokens at a time) cannot show; marking the substrings shows exactly what matched.
    With ``width``, return a fragment of about that many characters around the first match.
    """
    targets = sorted({w for w in words if w}, key=len, reverse=True)
    if not targets:
        return escape(text[:width] if width else text)
    pattern = re.compile("|".join(re.escape(w) for w in targets), re.IGNORECASE)
    if width:
        first = pattern.search(text)
        start = max(0, (first.start() if first else 0) - width // 3)
        fragment = text[start : start + width]
        prefix = "…" if start > 0 else ""
        suffix = "…" if start + width < len(text) else ""
        text = fragment
    else:
        prefix = suffix = ""
    out, last = [], 0
    for match in pattern.finditer(text):
        out.append(escape(text[last : match.start()]))
        out.append(Markup("<mark>{}</mark>").format(match.group()))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup(prefix) + Markup("").join(out) + Markup(suffix)
