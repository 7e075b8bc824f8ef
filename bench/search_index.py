"""Index build and query time of the board's search on a generated corpus.

Run: .venv/bin/python bench/search_index.py [N]   (default 10000)
"""
import os
import resource
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import flask_migrate  # noqa: E402

from bench import corpus  # noqa: E402
from notices import board  # noqa: E402
from notices import create_app  # noqa: E402
from notices import expiry  # noqa: E402
from notices import search  # noqa: E402

QUERIES = {
    "2 characters": ["工资", "路桥", "拉萨", "扎西", "警官", "雪域", "林芝", "光伏"],
    "4 characters": ["民工工资", "道路硬化", "出生医学", "雪域路桥", "污水处理", "防洪堤加"],
    "names": ["扎西次仁", "达瓦卓玛", "格桑拉姆", "尼玛多吉", "白玛央金"],
    "multi-word": ["林芝 污水处理", "那曲 公路", "日喀则 小学 工资", "西藏开发投资 供应商"],
    "document numbers": ["T540059774", "397403", "ZANG-12345"],
}


def _cpu_seconds():
    """CPU time of this process and of the child processes it has waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(n):
    tmp = tempfile.mkdtemp()
    app = create_app({
        "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
        "SEARCH_INDEX_DIR": f"{tmp}/index", "SEARCH_INDEX_ON_COMMIT": False,
    })
    with app.app_context():
        flask_migrate.upgrade(directory=app.extensions["migrate"].directory)
        lines = os.path.join(tmp, "notices.jsonl")
        corpus.write_lines(corpus.generate(n), lines)
        started = time.perf_counter()
        loaded = corpus.load(lines).loaded
        print(f"imported {loaded} notices in {time.perf_counter() - started:.1f} s")
        started, cpu = time.perf_counter(), _cpu_seconds()
        search.reindex(board.public_notices())
        build = time.perf_counter() - started
        size = sum(os.path.getsize(os.path.join(tmp, "index", f)) for f in os.listdir(f"{tmp}/index"))
        # CPU time too: the writer processes' included, it varies less than the wall time on
        # a shared machine.
        print(f"index build {build:.1f} s ({_cpu_seconds() - cpu:.1f} s of CPU), {size / 1e6:.1f} MB")
        today = expiry.board_today(expiry.utcnow())
        for label, queries in QUERIES.items():
            timings, totals = [], []
            for _ in range(5):
                for q in queries:
                    t = time.perf_counter()
                    totals.append(search.search(q, today=today, status="all").total)
                    timings.append((time.perf_counter() - t) * 1000)
            timings.sort()
            p95 = timings[int(len(timings) * 0.95) - 1]
            print(f"{label:18} median {statistics.median(timings):6.1f} ms  p95 {p95:6.1f} ms  "
                  f"mean hits {statistics.mean(totals):.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
