"""What people type and what notices say, read the same way by every search engine.

Two analyses of the same text, chosen by measuring recall and precision on the labelled
queries in tests/test_search.py:

- ``words``: jieba's segmentation (precise mode, plus the dictionary words inside long
  words, as its search mode does) for Han text; Tibetan split into syllables at the tsheg;
  Latin letters and digits as lower-case words. Positions count words, so nothing breaks
  phrase scoring the way jieba's stock ChineseAnalyzer (character offsets as positions) does.
- ``grams``: overlapping character bigrams at character positions. A phrase of bigrams is an
  exact substring match, which finds 工资 in 民工工资 and a name jieba cut in two (扎/西央/珍).

Nothing here knows an engine: queries are split into phrases, words and document numbers as
data, and each engine builds its own query from them.
"""
import functools
import logging
import os
import re
import unicodedata

import jieba
from markupsafe import Markup
from markupsafe import escape

from notices import documents
from notices import wording

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


@functools.lru_cache(maxsize=50_000)
def _segmented(run):
    """Return jieba's words of a run of Han text: (word, its dictionary words inside, start, end).

    Kept per run: notices are written in their type's fixed wording, so most runs recur
    (征集时间, 声明作废, the same company names), and segmenting is most of what indexing
    a notice costs.
    """
    segmented = []
    for word, start, end in jieba.tokenize(run):
        inner = []
        if len(word) > 2:
            for n in (2, 3):
                for i in range(len(word) - n + 1):
                    gram = word[i : i + n]
                    if gram != word and jieba.dt.FREQ.get(gram):
                        inner.append((gram, i))
        segmented.append((word, tuple(inner), start, end))
    return tuple(segmented)


def words(text):
    """Yield (word, position, start, end) as the ``words`` field indexes ``text``."""
    text = _analysed(text)
    pos = 0
    for kind, run, offset in _runs(text):
        if kind == "han":
            for word, inner, start, end in _segmented(run):
                # jieba's search mode adds the dictionary words inside a long word
                # (有限 and 公司 inside 有限公司); they share the long word's position.
                for gram, i in inner:
                    yield gram, pos, offset + start + i, offset + start + i + len(gram)
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


def searchable(text):
    """Return ``text`` as both analyses read it, lower-cased: a typed run is a substring of it
    exactly when the notice holds that run."""
    return _analysed(text).lower()


def runs(text):
    """Return the lower-case runs of ``text`` (Han, Tibetan, Latin/digit): what a substring
    match looks for, each run on its own, as ``grams`` reads them."""
    return [run for _kind, run, _start in _runs(searchable(text))]


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


def as_number(text):
    """Return ``text`` as a document number the ``numbers`` field may hold, or None."""
    number = documents.normalize_number(text)
    if _NUMBER.fullmatch(number) and sum(c.isdigit() for c in number) >= 5:
        return number
    return None


def typed_words(q):
    """Return (phrases, words) of a query, a document number typed in groups made one word."""
    phrases, typed = split_query(q)
    if len(typed) > 1 and (number := as_number(" ".join(typed))):
        # A document number typed in groups (5401 0219 …) is one number.
        typed = [number]
    return phrases, typed


def numbers_in(q):
    """Return the document numbers a query looks up exactly.

    Such a search answers "declared or not" as the lost-document lookup does, so it is limited
    as that is (see ``notices.lookups``).
    """
    return [number for word in typed_words(q)[1] if (number := as_number(word))]


def highlight_words(phrases, typed):
    """Return what a search for ``phrases`` and ``typed`` words marks in its results: each
    phrase and word that can match, and the jieba words inside each typed word."""
    marked = [phrase for phrase in phrases if list(grams(phrase))]
    for word in typed:
        if as_number(word) or list(grams(word)):
            marked.append(word)
            marked += [w for w, *_ in words(word) if len(w) > 1]
    return list(dict.fromkeys(marked))


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


def use_dictionary_cache(folder):
    """Keep jieba's dictionary cache in ``folder`` (the instance folder).

    jieba loads the cache it finds without asking who wrote it (marshal data), by default
    from the shared temporary folder, where anyone on the machine could leave one first.
    """
    os.makedirs(folder, exist_ok=True)
    jieba.dt.tmp_dir = folder


def matches(q, text, numbers=()):
    """Return True if a search for ``q`` finds a notice whose public title and text are
    ``text`` and whose declared document numbers have the keyed hashes ``numbers``
    (documents.number_hash).

    The engines' rule written once more as a predicate on one notice, for the alerts that
    match a notice the moment it is published (notices/alerts.py), before any index holds
    it. Both engines find a notice when every quoted phrase and every typed word matches:
    a phrase when each of its runs is a substring of the text; a word when it is a declared
    document number, or each of its runs is a substring, or (typed without spaces) each of
    its jieba words is. A query of no words finds every notice; one of only punctuation
    finds none. tests/test_alerts.py checks the predicate against both engines' searches.
    """
    if not (q or "").strip():
        return True
    haystack = searchable(text)

    def substring(part):
        found = runs(part)
        return None if not found else all(run in haystack for run in found)

    phrases, typed = typed_words(q)
    clauses = [substring(phrase) for phrase in phrases]
    for word in typed:
        options = []
        if number := as_number(word):
            options.append(documents.number_hash(number) in numbers)
        options.append(substring(word))
        pieces = list(dict.fromkeys(w for w, *_ in words(word) if len(w) > 1 or not w.isascii()))
        if len(pieces) > 1:
            parts = [p for p in (substring(piece) for piece in pieces) if p is not None]
            if parts:
                options.append(all(parts))
        options = [option for option in options if option is not None]
        clauses.append(any(options) if options else None)
    clauses = [clause for clause in clauses if clause is not None]
    return bool(clauses) and all(clauses)


def load_dictionary():
    """Load jieba's dictionary now (a second or two), not at the first text analysed: processes
    forked afterwards share it instead of each loading its own."""
    jieba.initialize()
