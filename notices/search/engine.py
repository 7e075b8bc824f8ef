"""The Whoosh engine: the only module that imports Whoosh.

Queries are built from the person's words as data (``analysis``), never parsed as Whoosh
syntax. See the package's docstring for how the index follows the database.
"""
import functools
import logging
import multiprocessing
import os
import pickle
import queue
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field

from whoosh import formats
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
from whoosh.reading import MultiReader
from whoosh.scoring import BM25F
from whoosh.searching import Searcher
from whoosh.system import pack_uint
from whoosh.util.filelock import try_for
from whoosh.writing import CLEAR
from whoosh.writing import SegmentWriter

from notices import wording
from notices.documents import number_hash
from notices.search.analysis import MAX_WORDS  # noqa: F401
from notices.search.analysis import as_number
from notices.search.analysis import grams
from notices.search.analysis import highlight_words
from notices.search.analysis import load_dictionary
from notices.search.analysis import typed_words
from notices.search.analysis import use_dictionary_cache
from notices.search.analysis import words

log = logging.getLogger(__name__)



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
    # Words are only looked for one at a time (phrases are matched on grams), so their
    # positions are not kept: smaller postings, faster indexing.
    title=TEXT(analyzer=_Tokenizer(words), field_boost=2.0, phrase=False),
    words=TEXT(analyzer=_Tokenizer(words), phrase=False),
    grams=TEXT(analyzer=_Tokenizer(grams), phrase=True),
    # Document numbers as their keyed hashes (documents.number_hash): exact matches only.
    # An index file's terms are readable, so no full number is ever written here.
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
#
# Two Whoosh indexes in one folder: ``live`` holds the notices whose window is open (about one in
# sixty at any time) and ``archive`` everything else. The default search reads only the live
# tier, which stays small however long the board runs; archive and "all" searches read both as
# one (a MultiReader, so scores use the statistics of the whole board). A notice moves from live
# to archive when it is revoked (the drain) or when its window ends (`flask expire`, after
# midnight); until the move, the live tier's filter keeps it out of the default search and the
# archived search finds it there.

LIVE, ARCHIVE = "live", "archive"
TIERS = (LIVE, ARCHIVE)

# What public text the index is made from. Raise it when what pages show changes in a way the
# index must follow: version 2 masks ID numbers to 4 + 1 characters (version 1 indexed the 6 + 4
# of older pages, so a search for those digits still found them) and drops invisible characters;
# version 3 splits the index into its live and archive tiers; version 4 holds document
# numbers as their keyed hashes (older versions held them in full). `flask init-db`, run on
# every upgrade, rebuilds an index of an older version.
TEXT_VERSION = 4
_VERSION_FILE = "board-text-version"

# Opened indexes and searchers belong to one process: gunicorn preloads the app and forks, and
# a worker must never share file handles or caches with the master or a sibling.
_indexes = {}
_searchers = {}


def init_app(app):
    """Remember where the app's index lives; create it on first use."""
    app.extensions["search_index_dir"] = app.config["SEARCH_INDEX_DIR"]
    use_dictionary_cache(app.instance_path)


def _dir():
    from flask import current_app

    return current_app.extensions["search_index_dir"]


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


def open_index(tier=ARCHIVE, create=False):
    """Return one tier of the app's index, creating both empty if there are none (or if asked)."""
    path = _dir()
    key = (os.getpid(), path, tier)
    # Once open, an index is not looked for again: another process committing to it
    # replaces its table of contents, and a look at that moment can find none.
    if create or (key not in _indexes and not whoosh_index.exists_in(path, indexname=tier)):
        os.makedirs(path, exist_ok=True)
        for name in TIERS:
            if create or not whoosh_index.exists_in(path, indexname=name):
                _indexes[(os.getpid(), path, name)] = whoosh_index.create_in(
                    path, SCHEMA, indexname=name
                )
        _write_text_version(path)
    elif key not in _indexes:
        _indexes[key] = whoosh_index.open_dir(path, indexname=tier)
    return _indexes[key]


def create_index():
    """Create both tiers empty, replacing any that exist."""
    open_index(create=True)


def location():
    """Return the index's folder."""
    return _dir()


def prepare_index():
    """Create both tiers empty if the folder has none."""
    open_index()


def record(notice, now):
    """Ask for ``notice``'s document to be rewritten, in the caller's transaction (which
    changed the notice): an outbox row, indexed by the next drain."""
    from notices.extensions import db
    from notices.models import IndexOutbox

    db.session.add(IndexOutbox(ref=notice.ref, created_at=now))


def tier_of(doc, today):
    """Return the tier an index document belongs in on ``today``."""
    live = doc["status"] == "published" and doc["window_end"] >= _day(today)
    return LIVE if live else ARCHIVE


def _writer(tier, timeout, **options):
    """Return a writer of one tier, taking its lock unless this process holds it already."""
    # Segments stay separate files: a compound segment is copied out of its memory map each
    # time a searcher opens it (70–80 ms a query at 100,000 notices, and memory per worker).
    options["compound"] = False
    if _dir() not in _held:
        return open_index(tier).writer(timeout=timeout, **options)
    if options.get("procs", 1) > 1:
        # A multiprocess writer hands its own keywords on to its sub-writers, which never
        # lock and say so themselves: given _lk twice, they die and the commit is empty.
        options["subargs"] = {"limitmb": options.get("limitmb", 128), "compound": False}
    return open_index(tier).writer(_lk=False, **options)


class IndexBusy(Exception):
    """Another process kept the index's write locks for longer than we could wait."""


# Index folders whose write locks this process holds through held().
_held = set()


@contextmanager
def held(timeout=60):
    """Hold both tiers' write locks for the duration of a bulk change (an import).

    Every other process's drain finds the locks taken and leaves the outbox to the holder,
    which drains or rebuilds (both use the held locks) before it lets go: otherwise the first
    editor to publish something during a bulk load would index the load's rows, as fast as
    they come, inside a web request. Meanwhile the search is as it was when the locks were
    taken, as during a rebuild.
    """
    path = _dir()
    locks = []
    try:
        for tier in TIERS:
            lock = open_index(tier).lock("WRITELOCK")
            if not try_for(lock.acquire, timeout=timeout, delay=0.1):
                raise IndexBusy(f"the search index at {path} is being written by another process")
            locks.append(lock)
        _held.add(path)
        yield
    finally:
        _held.discard(path)
        for lock in locks:
            lock.release()


def _writers_if_free():
    """Return {tier: writer} holding both tiers' locks, or None if another process has one."""
    writers = {}
    try:
        for tier in TIERS:
            writers[tier] = _writer(tier, timeout=0)
    except LockError:
        for writer in writers.values():
            writer.cancel()
        return None
    return writers


def _finish(writers, touched):
    """Commit the tiers that changed and release the others untouched."""
    for tier, writer in writers.items():
        if tier in touched:
            writer.commit()
        else:
            writer.cancel()


def document(notice, shown):
    """Return the index document for a public notice as the public sees it."""
    numbers = " ".join(item.number_hash for item in notice.items)
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


def public_document(notice, today):
    """Return the index document of ``notice`` as the public sees it, or None if not public
    or superseded by a correction (which the search finds instead)."""
    from notices import board

    if notice is None or not notice.is_current:
        return None
    return document(notice, board.show(notice, today))


def _rewrite(writers, documents, today):
    """Put each of ``documents`` ({ref: doc or None}) in its tier, and out of the other.

    Only a tier that holds the ref is changed: a delete of nothing still commits a new
    generation, which every worker's searcher would then reopen. Return the tiers changed.
    """
    touched = set()
    searchers = {tier: open_index(tier).searcher() for tier in writers}
    try:
        for ref, doc in documents.items():
            for tier, writer in writers.items():
                if searchers[tier].document_number(ref=ref) is not None:
                    writer.delete_by_term("ref", ref)
                    touched.add(tier)
            if doc is not None:
                tier = tier_of(doc, today)
                writers[tier].add_document(**doc)
                touched.add(tier)
    finally:
        for searcher in searchers.values():
            searcher.close()
    return touched


def drain(limit=500):
    """Index what the outbox holds, if no other process is doing so; return rows indexed.

    The index locks are tried, not waited for: a process holding them re-reads the outbox
    after every commit, so a row added meanwhile is never stranded.
    """
    from notices import expiry
    from notices.extensions import db
    from notices.models import IndexOutbox

    done = 0
    open_index()
    while True:
        rows = db.session.scalars(db.select(IndexOutbox).order_by(IndexOutbox.id).limit(limit)).all()
        writers = _writers_if_free() if rows else None
        if writers is None:
            db.session.commit()
            return done
        today = expiry.board_today(expiry.utcnow())
        ids = [row.id for row in rows]
        # The transaction ends before the slow part: the index writes must not keep other
        # writers waiting for the database.
        _write(writers, lambda: _documents_of(dict.fromkeys(row.ref for row in rows), today), today)
        db.session.execute(db.delete(IndexOutbox).where(IndexOutbox.id.in_(ids)))
        db.session.commit()
        done += len(ids)


def drain_quietly():
    """Drain after a commit; the notice is safe in the database whatever happens here."""
    try:
        drain()
    except Exception:
        log.exception("indexing failed; the outbox keeps the rows for the next drain")


def move_expired(today):
    """Move the live tier's notices whose window ended before ``today`` to the archive; return
    how many moved. `flask expire` runs it after midnight: a few dozen notices a day."""
    from notices.extensions import reading

    with open_index(LIVE).searcher() as searcher:
        ended = Q.NumericRange("window_end", None, _day(today) - 1)
        refs = [searcher.stored_fields(docnum)["ref"] for docnum in searcher.docs_for_query(ended)]
    if refs:
        writers = {LIVE: _writer(LIVE, timeout=60)}
        try:
            writers[ARCHIVE] = _writer(ARCHIVE, timeout=60)
        except BaseException:
            writers[LIVE].cancel()
            raise
        reading()
        _write(writers, lambda: _documents_of(refs, today), today)
    return len(refs)


def _documents_of(refs, today):
    """Return {ref: index document, or None if not public} of ``refs`` as the database has them."""
    from notices.extensions import db
    from notices.models import Notice

    notices = db.session.scalars(db.select(Notice).where(Notice.ref.in_(list(refs))))
    found = {notice.ref: notice for notice in notices}
    return {ref: public_document(found.get(ref), today) for ref in refs}


def _write(writers, read, today):
    """Put what ``read()`` returns from the database in its tiers, ending the database's
    transaction first; every writer is cancelled if anything fails."""
    from notices.extensions import db

    try:
        documents = read()
        db.session.commit()
        _finish(writers, _rewrite(writers, documents, today))
    except BaseException:
        for writer in writers.values():
            writer.cancel()
        raise


def reindex(notices, progress=None):
    """Rebuild both tiers from ``notices``, an iterable that reads the database lazily; return
    how many were indexed.

    The index locks come first and the database is read after them, in one snapshot: a drain
    that finished before the locks is in the snapshot, and one waiting for them comes after
    the rebuild, so no newer change is overwritten with an older one. Readers keep the old
    index until the new one is committed whole. Outbox rows the snapshot covers are removed;
    rows written meanwhile stay for the next drain.
    """
    from notices import expiry
    from notices.extensions import db
    from notices.extensions import reading
    from notices.models import IndexOutbox

    path = _dir()
    open_index()
    if not all(_fields_match(open_index(tier).schema) for tier in TIERS):
        # The code's fields changed: only a new index has them (nothing is lost, as the
        # database is re-read in full below).
        create_index()
    writers = {LIVE: _writer(LIVE, timeout=60)}
    archive = None
    try:
        writers[ARCHIVE] = _writer(ARCHIVE, timeout=60)
        # The archive is nearly everything: written by two processes, each its own segment,
        # while this one reads the database and renders each notice (see _ArchiveWriters).
        archive = _ArchiveWriters(path)
        reading()
        settled = db.session.scalar(db.select(db.func.max(IndexOutbox.id)))
        today = expiry.board_today(expiry.utcnow())
        count = 0
        for notice in notices:
            doc = public_document(notice, today)
            if doc is not None:
                tier = tier_of(doc, today)
                if tier == ARCHIVE:
                    archive.add(doc)
                else:
                    writers[tier].add_document(**doc)
            count += 1
            if progress:
                progress(1)
        # CLEAR: the new segments replace every old one in the same commit.
        segments = archive.segments()
        writers.pop(LIVE).commit(mergetype=CLEAR)
        _commit_segments(writers.pop(ARCHIVE), segments)
    except BaseException:
        if archive is not None:
            archive.stop()
        for writer in writers.values():
            writer.cancel()
        raise
    _write_text_version(path)
    _remove_untiered(path)
    # The snapshot was read-only; the delete begins a write transaction of its own.
    db.session.commit()
    if settled is not None:
        db.session.execute(db.delete(IndexOutbox).where(IndexOutbox.id <= settled))
        db.session.commit()
    return count


# --- the archive's rebuild -------------------------------------------------------------------
#
# Whoosh's own multiprocess writer spent most of a rebuild in three places that have nothing to
# do with the index's content: every posting of a segment (130 a notice) was kept as a tuple
# and the whole pool sorted, spilled to disk past its memory limit and merged back; and while
# writing each posting, the field's length in that document was read back from the file just
# written, with a look at the disk for every field without lengths. The processes below write
# the same postings in the same order: grouped by term as they come, and sorted by term only
# (a term's documents arrive in order), with the lengths read once into memory.

_BATCH = 500


class _TermPool:
    """A segment's postings, grouped by (field, term) as they come, in place of Whoosh's sorting
    pool: a term's documents arrive in ascending order, so only the terms need sorting."""

    def __init__(self):
        self.terms = {}
        self.fieldnames = set()

    def cleanup(self):
        # Called as the segment is finished, in a process about to end (see _write_segment).
        pass

    def cancel(self):
        self.terms = {}


class _Lengths:
    """Each document's field lengths, read once from a segment's per-document reader: what
    Whoosh's posting writer asks for once for every posting."""

    def __init__(self, reader, schema, count):
        self.reader = reader
        self.known = {
            name: [reader.doc_field_length(docnum, name, 0) for docnum in range(count)]
            for name in schema.scorable_names()
        }

    def close(self):
        self.reader.close()


def _postings(field, value):
    """Return what ``field.index(value)`` returns: (term bytes, frequency, weight, encoded
    value) of each term, computed straight from our tokenizer's words for the text fields
    instead of through Whoosh's tokens (a Token object and four generators a word)."""
    analyzer = getattr(field, "analyzer", None)
    kind = type(field.format)
    if not isinstance(analyzer, _Tokenizer) or not isinstance(value, str) or kind not in (
        formats.Frequency, formats.Positions
    ):
        return field.index(value)
    split = analyzer.split
    boost = field.format.field_boost
    if kind is formats.Frequency:
        freqs = {}
        for text, _pos, _start, _end in split(value):
            freqs[text] = freqs.get(text, 0) + 1
        return [
            (text.encode("utf-8"), freq, float(freq) * boost, _packed(freq))
            for text, freq in freqs.items()
        ]
    positions = {}
    for text, pos, _start, _end in split(value):
        found = positions.get(text)
        if found is None:
            positions[text] = [pos]
        else:
            found.append(pos)
    items = []
    for text, poslist in positions.items():
        # Positions.encode: the count, then the gaps between positions pickled.
        deltas = [poslist[0]] + [b - a for a, b in zip(poslist, poslist[1:])]
        count = len(poslist)
        items.append((
            text.encode("utf-8"), count, float(count) * boost,
            _packed(count) + pickle.dumps(deltas, 2),
        ))
    return items


@functools.lru_cache(maxsize=1024)
def _packed(number):
    return pack_uint(number)


class _SegmentWriter(SegmentWriter):
    """Writes one new segment of a tier that another writer holds the lock of."""

    def __init__(self, ix):
        super().__init__(ix, _lk=False, compound=False)
        self.pool = _TermPool()
        if any(field.separate_spelling() or field.vector for field in self.schema):
            raise ValueError("this writer keeps neither spelling words nor term vectors")

    def add_document(self, **fields):
        """SegmentWriter.add_document, for fields without spelling words or term vectors, with
        each term's postings put straight in the pool."""
        self._check_state()
        perdocwriter = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        terms = self.pool.terms
        fieldnames = self.pool.fieldnames
        docboost = self._doc_boost(fields)
        names = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, names)
        perdocwriter.start_doc(docnum)
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                length = 0
                if field.indexed:
                    fieldboost = self._field_boost(fields, name, docboost)
                    scorable = field.scorable
                    for tbytes, freq, weight, vbytes in _postings(field, value):
                        if scorable:
                            length += freq
                        postings = terms.get((name, tbytes))
                        if postings is None:
                            fieldnames.add(name)
                            postings = terms[name, tbytes] = []
                        postings.append((docnum, weight * fieldboost, b"" if vbytes is None else vbytes))
                stored = fields.get(f"_stored_{name}", value)
                perdocwriter.add_field(name, field, stored if field.stored else None, length)
                if field.column_type and stored is not None:
                    perdocwriter.add_column_value(name, field.column_type, field.to_column_value(stored))
        except Exception:
            perdocwriter.cancel_doc()
            raise
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self):
        """Write the pool's terms in order, each with its postings, as Whoosh's add_postings()
        does from its stream of sorted postings, without making that stream."""
        self.perdocwriter.close()
        lengths = _Lengths(self.per_document_reader(), self.schema, self.docnum)
        writer = self.fieldwriter
        terms = self.pool.terms
        try:
            current = None
            for fieldname, tbytes in sorted(terms):
                if fieldname != current:
                    if current is not None:
                        writer.finish_field()
                    writer.start_field(fieldname, self.schema[fieldname])
                    current = fieldname
                    # A field that is not scorable keeps no lengths: Whoosh's reader answers 0.
                    known = lengths.known.get(fieldname)
                writer.start_term(tbytes)
                add = writer.add
                if known is None:
                    for docnum, weight, vbytes in terms[fieldname, tbytes]:
                        add(docnum, weight, vbytes, 0)
                else:
                    for docnum, weight, vbytes in terms[fieldname, tbytes]:
                        add(docnum, weight, vbytes, known[docnum])
                writer.finish_term()
            if current is not None:
                writer.finish_field()
        finally:
            lengths.close()
        writer.close()


_kept = []


def _write_segment(path, jobs, results):
    """In a child process: index the batches of documents taken from ``jobs`` into one new
    segment of the archive tier, and send it (or the error) to ``results``."""
    try:
        writer = _SegmentWriter(whoosh_index.open_dir(path, indexname=ARCHIVE))
        # The writers of a tier share its folder of temporary files, which a writer's cancel()
        # or commit() removes: only the committing one, in the parent, may. Files of a segment
        # left unfinished are removed by that commit, which keeps only the segments it lists.
        try:
            while (batch := jobs.get()) is not None:
                for doc in batch:
                    writer.add_document(**doc)
            if writer.docnum:
                results.send(("segment", writer._finalize_segment()))
                # The process ends now: its postings go with it instead of being freed one by
                # one (seconds at 100,000 notices).
                _kept.append(writer)
            else:
                writer._close_segment()
                results.send(("segment", None))
        except BaseException:
            writer._close_segment()
            raise
    except BaseException as error:
        results.send(("error", repr(error)))
    finally:
        results.close()


class _ArchiveWriters:
    """Two processes writing a segment each of the archive tier from documents passed to them
    in batches; the process holding the tier's lock commits their segments.

    Two, as the machine a board runs on may have two cores: this process reads the database
    and renders each notice (a sixth of the work) while they analyse and write.
    """

    def __init__(self, path, procs=2):
        # Loaded here, the dictionary is shared by the processes forked below.
        load_dictionary()
        context = multiprocessing.get_context("fork")
        self.jobs = context.Queue(procs * 2)
        self.batch = []
        self.procs = []
        self.results = []
        for _ in range(procs):
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_write_segment, args=(path, self.jobs, send), daemon=True)
            process.start()
            send.close()
            self.procs.append(process)
            self.results.append(receive)

    def add(self, doc):
        self.batch.append(doc)
        if len(self.batch) >= _BATCH:
            self._put(self.batch)
            self.batch = []

    def _put(self, job):
        while True:
            try:
                self.jobs.put(job, timeout=1)
                return
            except queue.Full:
                self._check_alive()

    def _check_alive(self):
        for process, receive in zip(self.procs, self.results):
            if not process.is_alive() or receive.poll():
                raise RuntimeError(f"an index writer stopped: {self._answer(receive)}")

    @staticmethod
    def _answer(receive):
        try:
            return receive.recv() if receive.poll() else "no answer"
        except EOFError:
            return "no answer"

    def segments(self):
        """Return the segments written, once every process has finished its own."""
        if self.batch:
            self._put(self.batch)
            self.batch = []
        for _ in self.procs:
            self._put(None)
        segments = []
        for process, receive in zip(self.procs, self.results):
            try:
                kind, value = receive.recv()
            except EOFError:
                kind, value = "error", f"exit code {process.join() or process.exitcode}"
            process.join()
            if kind != "segment":
                raise RuntimeError(f"an index writer failed: {value}")
            if value is not None:
                segments.append(value)
        return segments

    def stop(self):
        # Batches left in the queue are dropped, not waited for when this process exits.
        self.jobs.cancel_join_thread()
        for process in self.procs:
            if process.is_alive():
                process.terminate()
            process.join()


def _commit_segments(writer, segments):
    """Commit ``segments`` as the whole of ``writer``'s tier, replacing every older segment
    (what Whoosh's multiprocess writer does with its sub-writers' segments)."""
    writer._close_segment()
    writer._commit_toc(segments)
    writer._finish()


def _remove_untiered(path):
    """Remove the single index of releases before the tiers (Whoosh's default name, MAIN)."""
    for name in os.listdir(path):
        if name.startswith(("_MAIN_", "MAIN_")):
            try:
                os.remove(os.path.join(path, name))
            except FileNotFoundError:
                pass


def _fields_match(schema):
    return schema.names() == SCHEMA.names() and all(
        type(schema[name]) is type(SCHEMA[name]) for name in SCHEMA.names()
    )


def _joined(readers, closereader=True):
    """Return a searcher of ``readers`` (the tiers, live first) as one index."""
    # An empty tier has no segments to join (and its reader no columns to sort by).
    leaves = [r for reader in readers for r, _ in reader.leaf_readers() if r.doc_count_all()]
    if not leaves:
        return Searcher(readers[0], weighting=BM25F(), closereader=closereader)
    return Searcher(MultiReader(leaves), weighting=BM25F(), closereader=closereader)


def whole_searcher():
    """Return a new searcher of both tiers as one index (close it after use)."""
    return _joined([open_index(tier).reader() for tier in TIERS])


def _stored():
    """Yield (tier, stored fields) of every document in the index."""
    for tier in TIERS:
        with open_index(tier).searcher() as searcher:
            for fields in searcher.all_stored_fields():
                yield tier, fields


def indexed():
    """Return {ref: (status, window_end)} of every document in the index, either tier."""
    return {fields["ref"]: (fields["status"], fields["window_end"]) for _, fields in _stored()}


def check(public):
    """Compare the index with ``public``: {ref: (status, window_end date)}; return differences."""
    differences = []
    if text_version() != TEXT_VERSION:
        differences.append(
            f"the index holds public text of version {text_version()}, pages show version "
            f"{TEXT_VERSION}: run flask reindex"
        )
    in_index, tiers = {}, {}
    for tier, fields in _stored():
        in_index[fields["ref"]] = (fields["status"], fields["window_end"])
        tiers.setdefault(fields["ref"], []).append(tier)
    for ref in sorted(ref for ref, where in tiers.items() if len(where) > 1):
        differences.append(f"{ref}: in both the live and the archive tier")
    for ref in sorted(ref for ref, where in tiers.items() if where == [LIVE]):
        if in_index[ref][0] != "published":
            differences.append(f"{ref}: revoked, still in the live tier")
    expected = {ref: (status, _day(end)) for ref, (status, end) in public.items()}
    for ref in sorted(expected.keys() - in_index.keys()):
        differences.append(f"{ref}: in the database, missing from the index")
    for ref in sorted(in_index.keys() - expected.keys()):
        differences.append(f"{ref}: in the index, not public in the database")
    for ref in sorted(expected.keys() & in_index.keys()):
        if expected[ref] != in_index[ref]:
            differences.append(f"{ref}: index has {in_index[ref]}, database {expected[ref]}")
    return differences


# --- queries -----------------------------------------------------------------------------

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


def _word_query(word):
    """Return the query for one typed word: a substring, its jieba words, or a document number."""
    options = []
    if number := as_number(word):
        options.append(Q.Term("numbers", number_hash(number), boost=4.0))
    # Digits and letters repeat in every phone and masked number: only their exact sequence
    # means anything, so they keep their positions.
    whole = _substring(word, exact=word.isascii())
    pieces = [w for w, *_ in words(word) if len(w) > 1 or not w.isascii()]
    distinct = list(dict.fromkeys(pieces))
    jieba_words = None
    if len(distinct) > 1:
        # Typed without spaces (西藏路桥工资): every jieba word must appear, anywhere.
        parts = [_substring(p, exact=False) for p in distinct]
        parts = [p for p in parts if p is not None]
        if parts:
            jieba_words = Q.And(parts, boost=0.5)
            if (folded := _folded(whole, parts)) is not None:
                whole, jieba_words = folded, None
    if whole is not None:
        options.append(Q.Or([whole, Q.Term("words", word.lower(), boost=2.0)]))
    if jieba_words is not None:
        options.append(jieba_words)
    if not options:
        return None
    return Q.Or(options) if len(options) > 1 else options[0]


def _gram_terms(query):
    """Return the grams ``query`` asks for all of, if it is a Term or an And of Terms on grams
    with no boost of its own; else None."""
    terms = query.subqueries if isinstance(query, Q.And) else [query]
    if query.boost != 1.0 or not all(
        isinstance(t, Q.Term) and t.fieldname == "grams" and t.boost == 1.0 for t in terms
    ):
        return None
    return [t.text for t in terms]


def _folded(whole, parts):
    """Return ``whole`` with the jieba words' clause ``parts`` folded in, or None if it cannot be.

    When a word's jieba words hold between them exactly the grams of the word (建设项目: 建设,
    项目 and the word itself), both clauses match the same notices, and the word's clause with
    each gram scored half again per jieba word that holds it is the sum the two gave: one pass
    over each posting list instead of two or three (建设项目 took twice as long). Jieba words
    that leave a gram out (民工工资: 民工, 工资, not 工工) match more notices, and stay a clause.
    """
    grams_needed = None if whole is None else _gram_terms(whole)
    each = [_gram_terms(part) for part in parts]
    if grams_needed is None or any(g is None for g in each):
        return None
    if {g for grams_of in each for g in grams_of} != set(grams_needed):
        return None
    boosts = {g: 1.0 + 0.5 * sum(g in grams_of for grams_of in each) for g in grams_needed}
    terms = [Q.Term("grams", g, boost=boosts[g]) for g in grams_needed]
    return terms[0] if len(terms) == 1 else Q.And(terms)


def build_query(q):
    """Return (Whoosh query or None, highlight words) for the text a person typed."""
    phrases, typed = typed_words(q)
    clauses = [_substring(phrase) for phrase in phrases] + [_word_query(word) for word in typed]
    clauses = [clause for clause in clauses if clause is not None]
    if not clauses:
        return None, []
    return (Q.And(clauses) if len(clauses) > 1 else clauses[0]), highlight_words(phrases, typed)


def _generations():
    return tuple(open_index(tier).latest_generation() for tier in TIERS)


class _Readers:
    """One process's searchers of both tiers, and what it worked out from them.

    A searcher is kept across requests and reopened only when its tier has changed (a look at
    the table of contents: microseconds). Document sets used as filters (the open windows of
    a day, a type's notices) depend only on the searcher and the day, so they are kept with
    it and dropped when it is reopened.
    """

    def __init__(self):
        # Read before the searchers open: a commit in between is taken for a change next
        # time, never missed. (A searcher's own up_to_date() is always False on an empty
        # tier, which would reopen everything on every search.)
        self.generations = _generations()
        self.live = open_index(LIVE).searcher(weighting=BM25F())
        self.archive = open_index(ARCHIVE).searcher(weighting=BM25F())
        self._both = None
        self.sets = {}

    def up_to_date(self):
        return _generations() == self.generations

    def refresh(self):
        if self.up_to_date():
            return
        # Reopened whole rather than with Whoosh's refresh(), which fails on an empty tier;
        # with separate segment files an open costs well under a millisecond.
        self.close()
        self.__init__()

    @property
    def both(self):
        """A searcher of both tiers as one index: the live tier's documents first."""
        if self._both is None:
            self._both = _joined([self.live.reader(), self.archive.reader()], closereader=False)
        return self._both

    def cached(self, key, compute):
        if key not in self.sets:
            self.sets[key] = set(compute())
        return self.sets[key]

    def close(self):
        self.live.close()
        self.archive.close()


_lock = threading.Lock()


def _readers():
    """Return this process's :class:`_Readers` for the app's index, up to date."""
    key = (os.getpid(), _dir())
    readers = _searchers.get(key)
    if readers is None:
        # A process serves one board; a few kept (tests make many) hold few files open.
        while len(_searchers) >= 4:
            _searchers.pop(next(iter(_searchers))).close()
        readers = _searchers[key] = _Readers()
    else:
        readers.refresh()
    return readers


def _using_readers(work):
    """Return ``work(readers)`` with this process's searchers, up to date.

    A searcher opens some of its segment files only when first needed (stored fields,
    columns). If a rebuild in another process commits meanwhile, it removes the old segments'
    files, and the search fails half-way: then it runs once more, on the new index. A failure
    while the index did not change is a failure.
    """
    with _lock:
        readers = _readers()
        try:
            return work(readers)
        except Exception:
            if readers.up_to_date():
                raise
            log.info("the search index changed during a search; searching it again")
            return work(_readers())


def forget_readers():
    """Close this process's searchers (an index replaced under them by a restore or tests)."""
    for key in [k for k in _searchers if k[0] == os.getpid()]:
        _searchers.pop(key).close()


def _status_docs(readers, status, today):
    """Return (searcher, allowed docnums or None) for a status on ``today``."""
    day = _day(today)
    if status == "active":
        # The live tier, but for notices whose window ended since the last `flask expire`.
        allowed = readers.cached(("active", day), lambda: readers.live.docs_for_query(
            Q.And([Q.Term("status", "published"), Q.NumericRange("window_end", day, None)])
        ))
        return readers.live, allowed
    if status == "archived":
        # All of the archive tier (revoked or ended when it moved there), and what in the
        # live tier has ended since: the live tier's documents come first in ``both``.
        def archived():
            ended = Q.Or([Q.Term("status", "revoked"), Q.NumericRange("window_end", None, day - 1)])
            docs = set(readers.live.docs_for_query(ended))
            first = readers.live.reader().doc_count_all()
            docs.update(range(first, first + readers.archive.reader().doc_count_all()))
            return docs

        return readers.both, readers.cached(("archived", day), archived)
    return readers.both, None


def _narrowed(allowed, docs):
    docs = set(docs)
    return docs if allowed is None else allowed & docs


def _query(q):
    """Return (Whoosh query or None, highlight words); every notice for a query of no words."""
    if (q or "").strip():
        # None when only punctuation or symbols were typed: nothing to look for.
        return build_query(q)
    # No words, only filters (an issuer's notices): every notice passes the query.
    return Q.Every(), []


def _filters(readers, status, today, kind, date_from, date_to, issuer):
    """Return (searcher, allowed, final): the searcher for ``status``, the documents every
    filter but the type allows, and those the type allows too (None: no filter)."""
    searcher, allowed = _status_docs(readers, status, today)
    # Filters narrow the matches as a set of documents instead of taking part in scoring.
    if date_from or date_to:
        allowed = _narrowed(allowed, searcher.docs_for_query(Q.NumericRange(
            "published_on", _day(date_from) if date_from else None,
            _day(date_to) if date_to else None,
        )))
    if issuer:
        allowed = _narrowed(allowed, searcher.docs_for_query(
            Q.Term("issuer", wording.visible(issuer))
        ))
    final = allowed
    if kind:
        of_kind = readers.cached(("kind", id(searcher), kind), lambda: searcher.docs_for_query(
            Q.Term("kind", kind)
        ))
        if allowed is None:
            final = of_kind
        elif date_from or date_to or issuer:
            final = allowed & of_kind
        else:
            final = readers.cached((status, _day(today), kind), lambda: allowed & of_kind)
    return searcher, allowed, final


def search(q, *, today, kind=None, status="active", date_from=None, date_to=None,
           issuer=None, sort="relevance", page=1, per_page=20):
    """Return :class:`Results`: refs in rank order for one page, the total and type facets."""
    query, highlight = _query(q)
    if query is None:
        return Results(hits=[], total=0, words=[])
    options = {"groupedby": sorting.FieldFacet("kind")}
    if sort == "date":
        options["sortedby"] = sorting.FieldFacet("published_on", reverse=True)
    filters = (status, today, kind, date_from, date_to, issuer)
    return _using_readers(
        lambda readers: _ranked(readers, query, highlight, options, filters, page, per_page)
    )


def _ranked(readers, query, highlight, options, filters, page, per_page):
    """Return one page of ranked :class:`Results` from ``readers``."""
    searcher, allowed, final = _filters(readers, *filters)
    if allowed is not None and not allowed:
        # Whoosh reads an empty filter as none at all.
        return Results(hits=[], total=0, facets={}, words=highlight)
    if final is not None and not final:
        final = {-1}  # no document has this number: nothing passes
    # One pass collects the page and the counts per type; with a type chosen (the third
    # filter), the counts of every type need a second, unscored pass without that filter.
    found = searcher.search(query, filter=final, limit=page * per_page, **options)
    grouped = found if not filters[2] else searcher.search(
        query, filter=allowed, limit=None, groupedby=sorting.FieldFacet("kind"), scored=False
    )
    facets = {code: len(docs) for code, docs in grouped.groups("kind").items()}
    start = (page - 1) * per_page
    hits = [Hit(hit["ref"], hit.score or 0.0) for hit in found[start : start + per_page]]
    return Results(hits=hits, total=len(found), facets=facets, words=highlight)




def generation():
    """Return the generations of both tiers: a new one after every commit to either."""
    return _generations()
