"""The rebuild's own writer processes write what Whoosh's writer writes from the same notices.

A rebuild writes the archive tier in two processes with a pool and an analysis of its own
(``engine._ArchiveWriters``), for speed; search results must not change, so every posting,
field length, column and stored field is compared, by ref, with an index of the same
documents written by Whoosh's ordinary writer.
"""
import multiprocessing
from collections import defaultdict
from datetime import date

import pytest
from whoosh import index as whoosh_index

from notices import board
from notices import expiry
from notices import search
from notices.search import engine

pytestmark = pytest.mark.search_engine("whoosh")


def contents(ix):
    """Return everything a search reads from ``ix``, keyed by ref instead of document number."""
    found = {}
    postings = defaultdict(list)
    with ix.reader() as reader:
        found["documents"] = reader.doc_count()
        for name in ix.schema.scorable_names():
            found["field length", name] = reader.field_length(name)
        for leaf, _base in reader.leaf_readers():
            refs = {docnum: leaf.stored_fields(docnum)["ref"] for docnum in leaf.all_doc_ids()}
            for docnum, ref in refs.items():
                found["stored", ref] = leaf.stored_fields(docnum)
                for name in ix.schema.scorable_names():
                    found["length", ref, name] = leaf.doc_field_length(docnum, name)
                for name in ("kind", "published_on"):
                    found["column", ref, name] = leaf.column_reader(name)[docnum]
            for fieldname, text in leaf.all_terms():
                matcher = leaf.postings(fieldname, text)
                while matcher.is_active():
                    postings[fieldname, text].append((refs[matcher.id()], matcher.weight(), matcher.value()))
                    matcher.next()
    found.update({("postings", *key): sorted(value) for key, value in postings.items()})
    return found


def reference(tmp_path, documents):
    """Return a tier of ``documents`` written by Whoosh's ordinary writer."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.create_in(str(tmp_path), engine.SCHEMA, indexname="reference")
    with ix.writer() as writer:
        for doc in documents:
            writer.add_document(**doc)
    return ix


def published(make_notice):
    """Notices of every type, some with their window open today and most ended."""
    today = expiry.board_today(expiry.utcnow())
    days = [date(2023, 5, 2), date(2024, 3, 8), today]
    made = []
    for i, (code, index) in enumerate([
        ("loss_declaration", 0), ("loss_declaration", 1), ("supplier_call", 0),
        ("expert_call", 0), ("wage_clearance", 0), ("loss_declaration", 2),
    ]):
        made.append(make_notice(code, index=index, day=days[i % len(days)]))
    made.append(make_notice("loss_declaration", day=days[0], status="revoked"))
    return made


def public_documents(app):
    with app.app_context():
        today = expiry.board_today(expiry.utcnow())
        return [engine.public_document(n, today) for n in board.public_notices()], today


def test_the_rebuilds_terms_are_whooshs_analysis(app, make_notice):
    published(make_notice)
    documents, _ = public_documents(app)
    documents.append({
        "title": "西藏\u200b开发 ｗａｇｅ ཀ་ཁ་ 有限公司有限公司", "words": "", "grams": "a 扎 ab 工资工资工资 ZANG-12345",
    })
    for doc in documents:
        for name, value in doc.items():
            field = engine.SCHEMA[name]
            if field.indexed:
                assert sorted(engine._postings(field, value)) == sorted(field.index(value)), name


def test_a_rebuild_writes_what_whooshs_writer_writes(app, make_notice, tmp_path):
    published(make_notice)
    documents, today = public_documents(app)
    with app.app_context():
        assert search.reindex(board.public_notices()) == len(documents)
        for tier in engine.TIERS:
            expected = reference(tmp_path / tier, [d for d in documents if engine.tier_of(d, today) == tier])
            assert contents(search.open_index(tier)) == contents(expected)
            assert contents(expected)["documents"] > 0


def test_two_writer_processes_each_write_a_segment_of_the_same_postings(app, make_notice, tmp_path):
    published(make_notice)
    notices, _ = public_documents(app)
    # More than two batches, so that both processes write a segment.
    documents = [dict(doc, ref=f"{doc['ref']}-{i}") for i in range(3 * engine._BATCH // len(notices) + 1)
                 for doc in notices]
    with app.app_context():
        archive = engine._ArchiveWriters(search.location())
        for doc in documents:
            archive.add(doc)
        segments = archive.segments()
        assert len(segments) == 2
        engine._commit_segments(engine._writer(engine.ARCHIVE, timeout=5), segments)
        assert contents(search.open_index(engine.ARCHIVE)) == contents(reference(tmp_path, documents))
    assert not multiprocessing.active_children()


def test_a_rebuild_that_fails_part_way_leaves_the_index_as_it_was(app, client, make_notice):
    ref = make_notice("loss_declaration", day=date(2024, 3, 8)).ref

    def notices_until_the_database_fails():
        yield from board.public_notices()
        raise RuntimeError("the database went away")

    with app.app_context(), pytest.raises(RuntimeError, match="went away"):
        search.reindex(notices_until_the_database_fails())
    assert not multiprocessing.active_children()
    body = client.get("/api/v1/notices", query_string={"q": "扎西央珍", "status": "all"}).get_json()
    assert [item["ref"] for item in body["items"]] == [ref]


def test_a_writer_process_that_fails_fails_the_rebuild(app):
    with app.app_context():
        engine.prepare_index()
        archive = engine._ArchiveWriters(search.location())
        archive.add({"ref": "X-1", "no such field": "文本"})
        with pytest.raises(RuntimeError, match="no such field"):
            archive.segments()
        archive.stop()
    assert not multiprocessing.active_children()
