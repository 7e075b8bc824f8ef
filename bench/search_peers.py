"""The board's search beside two peers on the same corpus and the same queries.

Engines, each built in this run from the same public notices (title and text as the public
sees them, type, status, window end, publication date, document numbers):

- ``board``: the board's own Whoosh index and ``search.search``;
- ``fts5``: SQLite FTS5 with ``tokenize='trigram'`` in its own database file; query words
  under 3 characters fall back to ``LIKE '%word%'``; document numbers match a plain table;
- ``tantivy``: character bigrams at consecutive positions (written out as a string of
  bigrams and split by tantivy's whitespace tokenizer), each word an exact phrase of its
  bigrams, so a match is a substring match;
- ``tantivy-ngram``: tantivy's own ``Tokenizer.ngram(2, 2)``. It gives every gram position
  0, so phrase queries match nothing; each word is an AND of its bigrams, as the board
  does for unquoted words;
- ``postgresql``: the board's PostgreSQL engine (``SEARCH_ENGINE=postgresql``) on a copy of
  the corpus in a throwaway cluster of Debian's PostgreSQL, rebuilt with ``search.reindex``.

For every engine: index build time and size on disk; median and p95 latency by query class
(first page of 20, warm: each query runs once untimed first); recall and precision of the
full result set against a substring truth: the public notices whose text, title or
document numbers contain every query word (case-insensitive, filters applied).

The corpus (generated notices written as JSON Lines and loaded by the board's bulk import,
``flask import-notices``, every line validated as a submission is; then the board's index
built from it with ``search.reindex``) is cached under ``bench/.cache/N/`` with the time
each step took, so only the first run at a size pays for them. Delete the folder (or pass
``--reindex`` to time the board's build again).

Run (the venv needs bench/requirements.txt besides the app's requirements.txt):

    python bench/search_peers.py --n 10000
    python bench/search_peers.py --n 100000 --queries-per-class 20 --repeats 1

It prints a table and writes bench/results/search_peers.json and search_latency.png.
"""
import argparse
import json
import math
import os
import random
import re
import shutil
import sqlite3
import statistics
import sys
import time
import unicodedata
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import flask_migrate  # noqa: E402
import jieba  # noqa: E402
import tantivy  # noqa: E402

from bench import corpus  # noqa: E402
from notices import board  # noqa: E402
from notices import create_app  # noqa: E402
from notices import documents  # noqa: E402
from notices import expiry  # noqa: E402
from notices import search  # noqa: E402
from notices.extensions import db  # noqa: E402
from notices.models import LossItem  # noqa: E402
from notices.models import Notice  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
PAGE = 20  # timed searches fetch one page, as the board's pages do
CLASSES = ("2 characters", "4 characters", "names", "multi-word", "document numbers", "filtered")
NUMBER = re.compile(r"[A-Z0-9-]{6,40}")


def log(message):
    print(message, flush=True)


# --- the corpus ---------------------------------------------------------------------------

def make_app(folder):
    return create_app({
        "SECRET_KEY": "bench",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.db",
        "SEARCH_INDEX_DIR": f"{folder}/whoosh",
        "SEARCH_INDEX_ON_COMMIT": False,
    })


def dir_size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def app_index_dir():
    from flask import current_app

    return current_app.config["SEARCH_INDEX_DIR"]


def reindex_board():
    """Rebuild the board's index from the database; return (seconds, bytes)."""
    started = time.perf_counter()
    search.reindex(board.public_notices())
    seconds = time.perf_counter() - started
    return seconds, dir_size(app_index_dir())


def prepare_corpus(n, reindex=False):
    """Return (app, meta) for the cached corpus of n notices, building it if absent.

    The cache is built in N.partial/ and renamed when complete, so an interrupted build
    never passes for a finished one.
    """
    folder = os.path.join(HERE, ".cache", str(n))
    meta_path = os.path.join(folder, "meta.json")
    if not os.path.exists(meta_path):
        partial = folder + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        os.makedirs(partial)
        app = make_app(partial)
        lines = os.path.join(partial, "notices.jsonl")
        with app.app_context():
            flask_migrate.upgrade(directory=app.extensions["migrate"].directory)
            corpus.write_lines(corpus.generate(n), lines)
            log(f"importing {n} notices from {os.path.relpath(lines)} (cached afterwards in {folder})")
            started = time.perf_counter()
            report = corpus.load(lines)
            import_seconds = time.perf_counter() - started
            if report.loaded != n:
                raise RuntimeError(f"the import loaded {report.loaded} of {n}: {report.refused[:3]}")
            log(f"  imported in {import_seconds:.1f} s ({n / import_seconds:.0f} a second); "
                "building the board's index")
            build_seconds, size = reindex_board()
        os.remove(lines)
        meta = {"n": n, "seed": 7, "import_seconds": import_seconds,
                "import_per_second": n / import_seconds, "board_build_seconds": build_seconds,
                "board_index_bytes": size, "built_at": time.strftime("%Y-%m-%d %H:%M:%S")}
        with open(os.path.join(partial, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1)
        shutil.rmtree(folder, ignore_errors=True)
        os.rename(partial, folder)
        meta["cached"] = False
        search.forget_readers()
    else:
        with open(meta_path) as f:
            meta = json.load(f)
        meta["cached"] = True
    app = make_app(folder)
    if meta["cached"]:
        with app.app_context():
            # A corpus cached by an older release: its schema brought up to date (as
            # `flask init-db` does), and its index rebuilt if it was made from older text.
            flask_migrate.upgrade(directory=app.extensions["migrate"].directory)
            reindex = reindex or search.text_version() != search.TEXT_VERSION
    if reindex:
        with app.app_context():
            meta["board_build_seconds"], meta["board_index_bytes"] = reindex_board()
        meta["cached"] = False
        with open(meta_path, "w") as f:
            json.dump({k: v for k, v in meta.items() if k != "cached"}, f, indent=1)
    return app, meta


def day(d):
    return d.year * 10000 + d.month * 100 + d.day


def fold(text):
    """Text as every engine (and the truth) compares it: NFKC, lower-case."""
    return unicodedata.normalize("NFKC", text).lower()


def public_documents(today, n):
    """Return every public notice as a plain dict: what the engines index, and the truth.

    A notice's numbers are the corpus's (of ``n`` notices) whose keyed hashes it keeps.
    """
    by_hash = {documents.number_hash(number): number for number in corpus.declared_numbers(n)}
    docs = []
    for notice in board.public_notices():
        shown = board.show(notice, today)
        docs.append({
            "ref": notice.ref,
            "kind": notice.kind,
            "status": notice.status,
            "window_end": day(notice.window_end),
            "published_on": day(notice.published_on),
            "text": shown.title + "\n" + shown.text.plain(),
            "numbers": [by_hash[item.number_hash] for item in notice.items],
        })
    return docs


# --- queries ------------------------------------------------------------------------------

@dataclass
class Query:
    cls: str
    text: str
    kind: str = None
    status: str = "all"

    def words(self):
        """The query's words as every engine takes them: the board's split, folded."""
        phrases, typed = search.split_query(self.text)
        return [fold(w) for w in phrases + typed]

    def label(self):
        filters = [f for f in (self.kind, self.status if self.status != "all" else None) if f]
        return self.text + (f" [{', '.join(filters)}]" if filters else "")


def words_of(strings):
    """Return (2-character words, 4-character words) of ``strings`` as jieba cuts them.

    Four-character words include two adjacent two-character ones (道路 硬化 -> 道路硬化), so
    the queries are words people type, not arbitrary windows (设项, 程有限公).
    """
    two, four = {}, {}
    for s in strings:
        cut = jieba.lcut(s)
        for word in cut:
            if len(word) == 2:
                two[word] = None
            elif len(word) == 4:
                four[word] = None
        for a, b in zip(cut, cut[1:]):
            if len(a) == 2 and len(b) == 2:
                four[a + b] = None
    return list(two), list(four)


def place_words():
    """Short place names as people type them: 拉萨, 城关, 林芝, 噶尔."""
    out = {}
    for place in corpus.PLACES:
        for piece in re.findall(r".+?(?:地区|市|区|县)|.+$", place):
            word = re.sub(r"(地区|市|区|县)$", "", piece)
            if len(word) >= 2:
                out[word] = None
    return list(out)


def make_queries(per_class, numbers, kinds, seed=11):
    """Return the query list, deterministic for (per_class, numbers, kinds, seed)."""
    rng = random.Random(seed)
    companies = [f"西藏{w}{t}工程有限公司" for w in corpus.WORDS for t in corpus.TRADES]
    places = place_words()
    two, four = words_of(places + corpus.GIVEN + corpus.TRADES + corpus.WORDS + corpus.WORKS
                         + corpus.ISSUERS + companies)
    topics = [w for w in sum(words_of(corpus.WORKS), []) if w not in places]
    extras = corpus.TRADES + corpus.WORDS + corpus.GIVEN + ["工资", "供应商", "专家", "遗失"]

    def sample(pool, k):
        return rng.sample(pool, min(k, len(pool)))

    def multi():
        words = [rng.choice(places), rng.choice(topics)]
        if rng.random() < 0.4:
            words.append(rng.choice(extras))
        return " ".join(dict.fromkeys(words))

    names = {}
    while len(names) < per_class:
        names[corpus.person(rng)] = None
    absent = max(2, per_class // 10)
    real = sample(sorted(set(numbers)), per_class - absent)
    missing = []
    while len(missing) < absent:
        candidate = rng.choice([f"ZANG-{rng.randint(100000, 999999)}", f"T99{rng.randint(0, 9999999):07d}"])
        if candidate not in numbers:
            missing.append(candidate)
    multis = {}
    while len(multis) < per_class:
        multis[multi()] = None

    queries = [Query("2 characters", q) for q in sample(two, per_class)]
    queries += [Query("4 characters", q) for q in sample(four, per_class)]
    queries += [Query("names", q) for q in names]
    queries += [Query("multi-word", q) for q in multis]
    queries += [Query("document numbers", q) for q in real + missing]
    for i in range(per_class):
        text = rng.choice([rng.choice(two), rng.choice(four), multi()])
        kind, status = [(rng.choice(kinds), "all"), (None, "active"), (rng.choice(kinds), "active")][i % 3]
        queries.append(Query("filtered", text, kind, status))
    return queries


def passes(doc, query, today):
    if query.kind and doc["kind"] != query.kind:
        return False
    if query.status == "active":
        return doc["status"] == "published" and doc["window_end"] >= today
    return True


def truth(docs, queries, today):
    """Return [set of refs] per query: notices containing every word as a substring."""
    haystacks = [fold(d["text"] + "\n" + " ".join(d["numbers"])) for d in docs]
    out = []
    for query in queries:
        words = query.words()
        out.append({
            d["ref"] for d, hay in zip(docs, haystacks)
            if passes(d, query, today) and all(w in hay for w in words)
        })
    return out


def looks_like_number(word):
    """The board's rule for a document number: 6-40 of A-Z, 0-9, '-', at least 5 digits."""
    number = documents.normalize_number(word)
    return bool(NUMBER.fullmatch(number)) and sum(c.isdigit() for c in number) >= 5


# --- the engines: build(docs) -> stats; search(query, limit) -> refs --------------------

class Board:
    """The board's own index (built with the corpus, see prepare_corpus) and search."""

    name = "board"

    def __init__(self, app, meta, today):
        self.app, self.meta, self.today = app, meta, today

    def build(self, docs):
        return {"build_seconds": self.meta["board_build_seconds"], "size_bytes": self.meta["board_index_bytes"],
                "build_timed": "when the corpus was cached" if self.meta["cached"] else "this run"}

    def search(self, query, limit):
        results = search.search(query.text, today=self.today, kind=query.kind, status=query.status,
                                per_page=limit)
        return [hit.ref for hit in results.hits]


class Fts5:
    """SQLite FTS5, trigram tokenizer; LIKE for words under 3 characters."""

    name = "fts5"

    def __init__(self, path, today):
        self.path, self.today = path, today

    def build(self, docs):
        if os.path.exists(self.path):
            os.remove(self.path)
        started = time.perf_counter()
        con = sqlite3.connect(self.path)
        con.executescript("""
            CREATE TABLE notice (id INTEGER PRIMARY KEY, ref TEXT, kind TEXT, status TEXT,
                                 window_end INTEGER, published_on INTEGER);
            CREATE VIRTUAL TABLE notice_text USING fts5(text, tokenize='trigram');
            CREATE TABLE number (number TEXT, notice_id INTEGER);
        """)
        with con:
            for i, d in enumerate(docs, 1):
                con.execute("INSERT INTO notice VALUES (?, ?, ?, ?, ?, ?)",
                            (i, d["ref"], d["kind"], d["status"], d["window_end"], d["published_on"]))
                con.execute("INSERT INTO notice_text (rowid, text) VALUES (?, ?)",
                            (i, unicodedata.normalize("NFKC", d["text"])))
                con.executemany("INSERT INTO number VALUES (?, ?)", [(num, i) for num in d["numbers"]])
            con.execute("CREATE INDEX number_number ON number (number)")
            con.execute("INSERT INTO notice_text (notice_text) VALUES ('optimize')")
        con.close()
        seconds = time.perf_counter() - started
        self.con = sqlite3.connect(self.path)
        return {"build_seconds": seconds, "size_bytes": dir_size(self.path), "build_timed": "this run"}

    @staticmethod
    def _phrase(word):
        return '"' + word.replace('"', '""') + '"'

    @staticmethod
    def _like(word):
        return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

    def search(self, query, limit):
        long_words, short_words, number_words = [], [], []
        for word in query.words():
            if looks_like_number(word):
                number_words.append(word)
            elif len(word) >= 3:
                long_words.append(word)
            else:
                short_words.append(word)
        where, params = [], []
        if long_words:
            where.append("t.text MATCH ?")
            params.append(" AND ".join(self._phrase(w) for w in long_words))
        for word in short_words:
            where.append("t.text LIKE ? ESCAPE '\\'")
            params.append(self._like(word))
        for word in number_words:
            where.append("(n.id IN (SELECT notice_id FROM number WHERE number = ?)"
                         " OR n.id IN (SELECT rowid FROM notice_text WHERE text MATCH ?))")
            params += [documents.normalize_number(word), self._phrase(word)]
        if query.kind:
            where.append("n.kind = ?")
            params.append(query.kind)
        if query.status == "active":
            where.append("n.status = 'published' AND n.window_end >= ?")
            params.append(self.today)
        # Ranked by bm25 when there is a MATCH; LIKE alone has no rank, so newest first.
        order = "t.rank" if long_words else "n.published_on DESC"
        sql = (f"SELECT n.ref FROM notice_text t JOIN notice n ON n.id = t.rowid "
               f"WHERE {' AND '.join(where) or '1'} ORDER BY {order} LIMIT ?")
        return [ref for (ref,) in self.con.execute(sql, (*params, limit))]


class Postgres:
    """The board's PostgreSQL engine (``search.search`` with ``SEARCH_ENGINE=postgresql``), in
    a throwaway cluster of Debian's PostgreSQL (tests/postgres.py) holding a copy of the
    corpus's notices; its build time is ``flask reindex``'s on that copy."""

    name = "postgresql"

    def __init__(self, source_app, today):
        self.source_app, self.today = source_app, today

    def build(self, docs):
        sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
        import atexit

        import postgres

        self.cluster = postgres.Cluster().start()
        atexit.register(self.cluster.stop)
        self.app = create_app({
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": self.cluster.create("bench"),
            "SEARCH_ENGINE": "postgresql",
            "SEARCH_INDEX_ON_COMMIT": False,
        })
        with self.app.app_context():
            flask_migrate.upgrade(directory=self.app.extensions["migrate"].directory)
            self._copy(Notice.__table__)
            self._copy(LossItem.__table__)
            started = time.perf_counter()
            search.reindex(board.public_notices())
            seconds = time.perf_counter() - started
            db.session.commit()
            # As autovacuum would soon after a rebuild: the planner's statistics, the GIN
            # index's pending list merged.
            with db.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT", board_reading=True
            ) as connection:
                connection.exec_driver_sql("VACUUM ANALYZE search_document")
                size = connection.exec_driver_sql(
                    "SELECT pg_total_relation_size('search_document')"
                ).scalar()
        return {"build_seconds": seconds, "size_bytes": size, "build_timed": "this run"}

    def _copy(self, table, batch=2000):
        """Copy ``table``'s rows from the corpus's SQLite database into PostgreSQL."""
        # Read as a reader: the corpus's app holds its own transaction open meanwhile.
        with self.source_app.app_context(), db.engine.connect().execution_options(
            board_reading=True
        ) as connection:
            rows = [dict(row._mapping) for row in connection.execute(db.select(table))]
        for i in range(0, len(rows), batch):
            db.session.execute(db.insert(table), rows[i : i + batch])
        db.session.commit()

    def search(self, query, limit):
        with self.app.app_context():
            results = search.search(query.text, today=self.today, kind=query.kind,
                                    status=query.status, per_page=limit)
            return [hit.ref for hit in results.hits]

    def by_status(self, queries, repeats):
        """Return the engine's figures by scope, as :func:`measure_board_statuses` gives
        the board's Whoosh index."""
        return measure_board_statuses(self.app, queries, self.today, repeats)


def bigrams(word):
    return [word[i : i + 2] for i in range(len(word) - 1)]


class Tantivy:
    """tantivy with bigrams at consecutive positions: each word is a phrase of its bigrams.

    tantivy's ngram tokenizer puts every gram at position 0, so the bigrams are written out
    here, space-separated, and tantivy's whitespace tokenizer gives them their positions.
    With ``builtin_ngram``, the text is analysed by ``Tokenizer.ngram(2, 2)`` itself and a
    word is an AND of its bigrams (phrases would match nothing).
    """

    def __init__(self, path, today, builtin_ngram=False):
        self.path, self.today, self.builtin = path, today, builtin_ngram
        self.name = "tantivy-ngram" if builtin_ngram else "tantivy"

    def _schema(self):
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("ref", stored=True, tokenizer_name="raw")
        builder.add_text_field("kind", tokenizer_name="raw")
        builder.add_text_field("status", tokenizer_name="raw")
        builder.add_integer_field("window_end", indexed=True, fast=True)
        builder.add_integer_field("published_on", indexed=True, fast=True)
        builder.add_text_field("text", tokenizer_name="grams")
        builder.add_text_field("numbers", tokenizer_name="raw")
        return builder.build()

    def _open(self):
        self.schema = self._schema()
        index = tantivy.Index(self.schema, path=self.path)
        tokenizer = tantivy.Tokenizer.ngram(2, 2, False) if self.builtin else tantivy.Tokenizer.whitespace()
        index.register_tokenizer("grams", tantivy.TextAnalyzerBuilder(tokenizer).build())
        return index

    def _text(self, text):
        text = fold(text)
        if self.builtin:
            return text
        # Whitespace inside a gram would split it: stand a visible character in for it.
        return " ".join(bigrams(re.sub(r"\s", "\u2581", text)))

    def build(self, docs):
        shutil.rmtree(self.path, ignore_errors=True)
        os.makedirs(self.path)
        started = time.perf_counter()
        index = self._open()
        writer = index.writer(heap_size=256_000_000)
        for d in docs:
            doc = tantivy.Document()
            doc.add_text("ref", d["ref"])
            doc.add_text("kind", d["kind"])
            doc.add_text("status", d["status"])
            doc.add_integer("window_end", d["window_end"])
            doc.add_integer("published_on", d["published_on"])
            doc.add_text("text", self._text(d["text"]))
            for number in d["numbers"]:
                doc.add_text("numbers", number)
            writer.add_document(doc)
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        seconds = time.perf_counter() - started
        self.searcher = index.searcher()
        return {"build_seconds": seconds, "size_bytes": dir_size(self.path), "build_timed": "this run"}

    def _word(self, word):
        grams = bigrams(word)
        if not grams:  # one character: any bigram starting with it
            return tantivy.Query.regex_query(self.schema, "text", re.escape(word) + ".")
        if len(grams) == 1:
            return tantivy.Query.term_query(self.schema, "text", grams[0])
        if self.builtin:
            return tantivy.Query.boolean_query([
                (tantivy.Occur.Must, tantivy.Query.term_query(self.schema, "text", g)) for g in dict.fromkeys(grams)
            ])
        return tantivy.Query.phrase_query(self.schema, "text", grams)

    def search(self, query, limit):
        must = []
        for word in query.words():
            clause = self._word(word)
            if looks_like_number(word):
                exact = tantivy.Query.term_query(self.schema, "numbers", documents.normalize_number(word))
                clause = tantivy.Query.boolean_query([(tantivy.Occur.Should, exact), (tantivy.Occur.Should, clause)])
            must.append(clause)
        if query.kind:
            must.append(tantivy.Query.term_query(self.schema, "kind", query.kind))
        if query.status == "active":
            must.append(tantivy.Query.term_query(self.schema, "status", "published"))
            must.append(tantivy.Query.range_query(self.schema, "window_end", tantivy.FieldType.Integer,
                                                  lower_bound=self.today))
        final = tantivy.Query.boolean_query([(tantivy.Occur.Must, q) for q in must])
        hits = self.searcher.search(final, limit=limit, count=False).hits
        return [self.searcher.doc(address)["ref"][0] for _score, address in hits]


# --- measuring ----------------------------------------------------------------------------

def p95(values):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def measure(engine, queries, truths, repeats, total):
    """Return per-query timings (ms) and result sets, and per-class figures."""
    for query in queries:  # warm: every query once, untimed
        engine.search(query, PAGE)
    timings = {q_index: [] for q_index in range(len(queries))}
    for _ in range(repeats):
        for i, query in enumerate(queries):
            started = time.perf_counter()
            engine.search(query, PAGE)
            timings[i].append((time.perf_counter() - started) * 1000)
    found = [set(engine.search(query, total)) for query in queries]
    classes = {}
    for cls in CLASSES:
        members = [i for i, q in enumerate(queries) if q.cls == cls]
        if not members:
            continue
        times = [t for i in members for t in timings[i]]
        recalls = [len(found[i] & truths[i]) / len(truths[i]) for i in members if truths[i]]
        precisions = [len(found[i] & truths[i]) / len(found[i]) for i in members if found[i]]
        classes[cls] = {
            "queries": len(members),
            "median_ms": statistics.median(times),
            "p95_ms": p95(times),
            "recall": statistics.mean(recalls) if recalls else None,
            "precision": statistics.mean(precisions) if precisions else None,
            "queries_with_truth": len(recalls),
            "queries_with_results": len(precisions),
            "mean_truth": statistics.mean(len(truths[i]) for i in members),
            "mean_found": statistics.mean(len(found[i]) for i in members),
        }
    per_query = [{"median_ms": statistics.median(timings[i]), "found": len(found[i]),
                  "missed": len(truths[i] - found[i]), "extra": len(found[i] - truths[i])}
                 for i in range(len(queries))]
    return classes, per_query


STATUSES = ("active", "archived", "all")


def measure_board_statuses(app, queries, today, repeats):
    """Return {status: {class: figures}}: the board's search as readers use it, the default
    (active) search, the archive and everything, each query with its type filter."""
    out = {}
    with app.app_context():
        for status in STATUSES:
            timings, totals = {}, {}
            for query in queries:
                search.search(query.text, today=today, kind=query.kind, status=status)  # warm
                for _ in range(repeats):
                    started = time.perf_counter()
                    found = search.search(query.text, today=today, kind=query.kind, status=status)
                    timings.setdefault(query.cls, []).append((time.perf_counter() - started) * 1000)
                totals.setdefault(query.cls, []).append(found.total)
            out[status] = {
                cls: {"median_ms": statistics.median(times), "p95_ms": p95(times),
                      "mean_total": statistics.mean(totals[cls])}
                for cls, times in timings.items()
            }
    return out


def plot_statuses(n, by_status, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = list(by_status["active"])
    width = 0.8 / len(STATUSES)
    fig, ax = plt.subplots(figsize=(10, 5))
    labels = {"active": "default (active)", "archived": "archive", "all": "all"}
    for j, status in enumerate(STATUSES):
        values = [by_status[status][c]["p95_ms"] for c in classes]
        ax.bar([i + (j - 1) * width for i in range(len(classes))], values, width, label=labels[status])
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yscale("log")
    ax.axhline(10, color="grey", linestyle="--", linewidth=1)
    ax.axhline(30, color="grey", linestyle=":", linewidth=1)
    ax.set_ylabel("p95 latency, ms (log scale)")
    ax.set_title(f"The board's search by scope, {n:,} notices (dashed: 10 ms, dotted: 30 ms)")
    ax.legend(loc="upper left")
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def print_table(n, engines):
    log(f"\n{n} notices")
    log(f"{'engine':14} {'build s':>8} {'size MB':>8}")
    for name, figures in engines.items():
        log(f"{name:14} {figures['build_seconds']:8.1f} {figures['size_bytes'] / 1e6:8.1f}"
            + ("  (timed when the corpus was cached)" if figures["build_timed"] != "this run" else ""))
    log(f"\n{'class':17} {'engine':14} {'median ms':>9} {'p95 ms':>8} {'recall':>7} {'precision':>9} "
        f"{'truth':>7} {'found':>7}")
    for cls in CLASSES:
        for name, figures in engines.items():
            c = figures["classes"].get(cls)
            if c:
                log(f"{cls:17} {name:14} {c['median_ms']:9.2f} {c['p95_ms']:8.2f} {fmt(c['recall'], '7.3f')} "
                    f"{fmt(c['precision'], '9.3f')} {c['mean_truth']:7.0f} {c['mean_found']:7.0f}")


def plot(n, engines, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(engines)
    classes = [c for c in CLASSES if all(c in engines[e]["classes"] for e in names)]
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(10, 5))
    for j, name in enumerate(names):
        values = [engines[name]["classes"][c]["p95_ms"] for c in classes]
        ax.bar([i + (j - (len(names) - 1) / 2) * width for i in range(len(classes))], values, width, label=name)
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yscale("log")
    top = max(engines[e]["classes"][c]["p95_ms"] for e in names for c in classes)
    ax.set_ylim(top=top * 8)  # room for the legend above the tallest bar
    ax.set_ylabel("p95 latency, ms (log scale)")
    ax.set_title(f"Search p95 latency by query class, {n:,} notices (first page of {PAGE})")
    ax.legend(ncol=len(names), loc="upper center")
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="notices in the corpus (default 100000)")
    parser.add_argument("--queries-per-class", type=int, default=50, help="queries in each class (default 50)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each query (default 3)")
    parser.add_argument("--reindex", action="store_true", help="time the board's index build again")
    parser.add_argument("--engines", default="board,fts5,tantivy,tantivy-ngram,postgresql")
    parser.add_argument("--default-only", action="store_true",
                        help="only time the board's default (active) search by class, and save nothing")
    parser.add_argument("--replot", action="store_true",
                        help="only redraw search_latency_N.png from search_peers_N.json")
    args = parser.parse_args()
    if args.replot:
        with open(os.path.join(RESULTS, f"search_peers_{args.n}.json")) as f:
            plot(args.n, json.load(f)["engines"], os.path.join(RESULTS, f"search_latency_{args.n}.png"))
        return
    if args.default_only:
        default_only(args)
        return
    phases = {}

    def phase(name, started):
        phases[name] = round(time.perf_counter() - started, 2)
        log(f"[{name}: {phases[name]:.1f} s]")

    started = time.perf_counter()
    app, meta = prepare_corpus(args.n, args.reindex)
    phase("corpus (cached)" if meta["cached"] else "corpus (import + board index build)", started)
    peers = os.path.join(HERE, ".cache", str(args.n), "peers")
    os.makedirs(peers, exist_ok=True)
    os.makedirs(RESULTS, exist_ok=True)

    with app.app_context():
        today_date = expiry.board_today(expiry.utcnow())
        today = day(today_date)
        started = time.perf_counter()
        docs = public_documents(today_date, args.n)
        numbers = {number for d in docs for number in d["numbers"]}
        phase("public text of every notice", started)
        log(f"{len(docs)} public notices, {len(numbers)} document numbers, today {today_date}")

        queries = make_queries(args.queries_per_class, numbers, sorted({d["kind"] for d in docs}))
        started = time.perf_counter()
        truths = truth(docs, queries, today)
        phase("substring truth", started)

        all_engines = {
            "board": Board(app, meta, today_date),
            "fts5": Fts5(os.path.join(peers, "fts5.db"), today),
            "tantivy": Tantivy(os.path.join(peers, "tantivy"), today),
            "tantivy-ngram": Tantivy(os.path.join(peers, "tantivy-ngram"), today, builtin_ngram=True),
            "postgresql": Postgres(app, today_date),
        }
        engines, per_query = {}, {}
        for name in args.engines.split(","):
            engine = all_engines[name]
            started = time.perf_counter()
            stats = engine.build(docs)
            phase(f"{name} build", started)
            started = time.perf_counter()
            stats["classes"], per_query[name] = measure(engine, queries, truths, args.repeats, len(docs))
            phase(f"{name} queries", started)
            engines[name] = stats

        by_status = None
        if "board" in engines:
            started = time.perf_counter()
            by_status = measure_board_statuses(app, queries, today_date, args.repeats)
            phase("board by scope", started)
            for status, classes in by_status.items():
                log(f"board {status:9} " + "  ".join(
                    f"{cls}: {c['median_ms']:.1f}/{c['p95_ms']:.1f} ms" for cls, c in classes.items()
                ))
        postgresql_by_status = None
        if "postgresql" in engines:
            started = time.perf_counter()
            postgresql_by_status = all_engines["postgresql"].by_status(queries, args.repeats)
            phase("postgresql by scope", started)
            for status, classes in postgresql_by_status.items():
                log(f"postgresql {status:9} " + "  ".join(
                    f"{cls}: {c['median_ms']:.1f}/{c['p95_ms']:.1f} ms" for cls, c in classes.items()
                ))

    print_table(args.n, engines)
    result = {
        "board_by_status": by_status,
        "postgresql_by_status": postgresql_by_status,
        "n": args.n,
        "public_notices": len(docs),
        "today": today_date.isoformat(),
        "queries_per_class": args.queries_per_class,
        "repeats": args.repeats,
        "page": PAGE,
        "corpus": {k: v for k, v in meta.items()},
        "versions": {"tantivy": _version("tantivy"), "sqlite": sqlite3.sqlite_version,
                     "whoosh": _version("Whoosh-Reloaded")},
        "phases_seconds": phases,
        "engines": engines,
        "queries": [
            {"class": q.cls, "q": q.text, "kind": q.kind, "status": q.status, "truth": len(t),
             "engines": {name: per_query[name][i] for name in engines}}
            for i, (q, t) in enumerate(zip(queries, truths))
        ],
    }
    # The latest run under the names the report reads, and a copy per size beside it.
    for suffix in ("", f"_{args.n}"):
        with open(os.path.join(RESULTS, f"search_peers{suffix}.json"), "w") as f:
            json.dump(result, f, ensure_ascii=False, indent=1)
        plot(args.n, engines, os.path.join(RESULTS, f"search_latency{suffix}.png"))
        if by_status:
            plot_statuses(args.n, by_status, os.path.join(RESULTS, f"search_scopes{suffix}.png"))
    log(f"\nwrote {os.path.relpath(RESULTS)}/search_peers.json and search_latency.png (and _{args.n} copies)")
    log("phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()))


def default_only(args):
    """Time the board's default search by class on the cached corpus: the queries of a full
    run (the same seed), without building or measuring any peer. Besides the time each search
    took, the processor time it used: on a machine others share, a search waiting for a core
    takes long without costing more."""
    app, _meta = prepare_corpus(args.n)
    with app.app_context():
        today = expiry.board_today(expiry.utcnow())
        # The database keeps only their keyed hashes: the numbers are the corpus's own.
        numbers = set(corpus.declared_numbers(args.n))
        kinds = sorted(db.session.scalars(db.select(Notice.kind).distinct()))
        queries = make_queries(args.queries_per_class, numbers, kinds)
        wall, cpu, totals = {}, {}, {}
        for query in queries:
            search.search(query.text, today=today, kind=query.kind)  # warm
            for _ in range(args.repeats):
                started, used = time.perf_counter(), time.process_time()
                found = search.search(query.text, today=today, kind=query.kind)
                cpu.setdefault(query.cls, []).append((time.process_time() - used) * 1000)
                wall.setdefault(query.cls, []).append((time.perf_counter() - started) * 1000)
            totals.setdefault(query.cls, []).append(found.total)
    for cls in wall:
        log(f"default {cls:17} median {statistics.median(wall[cls]):5.1f} ms  "
            f"p95 {p95(wall[cls]):5.1f} ms  processor: median {statistics.median(cpu[cls]):5.1f} ms  "
            f"p95 {p95(cpu[cls]):5.1f} ms  mean total {statistics.mean(totals[cls]):.0f}")


def _version(package):
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    main()
