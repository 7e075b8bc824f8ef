"""Write bench/RESULTS.md from the figures the benchmarks of this run left in bench/results/."""
import json
import os
import platform
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")


def load(name):
    with open(os.path.join(RESULTS, name)) as f:
        return json.load(f)


def search_section(peers):
    engines = peers["engines"]
    classes = list(next(iter(engines.values()))["classes"])
    lines = [
        f"## Search at {peers['n']:,} notices",
        "",
        "Median / p95 latency of the first page of 20 (ms), and recall / precision against a "
        "substring truth set, the same queries for every engine "
        f"({peers['queries_per_class']} per class).",
        "",
        "| class | " + " | ".join(engines) + " |",
        "|---|" + "---|" * len(engines),
    ]
    for cls in classes:
        cells = []
        for figures in engines.values():
            c = figures["classes"][cls]
            cells.append(f"{c['median_ms']:.1f} / {c['p95_ms']:.1f} ms, R {c['recall']:.2f} P {c['precision']:.2f}")
        lines.append(f"| {cls} | " + " | ".join(cells) + " |")
    lines += ["", "| engine | index build | index size |", "|---|---|---|"]
    for name, figures in engines.items():
        lines.append(f"| {name} | {figures['build_seconds']:.1f} s | {figures['size_bytes'] / 1e6:.0f} MB |")
    corpus = peers.get("corpus", {})
    if "import_seconds" in corpus:
        lines += [
            "",
            f"The corpus was loaded by the bulk import (`flask import-notices`' code, every line "
            f"validated as a submission is): {corpus['n']:,} notices in "
            f"{corpus['import_seconds']:.1f} s, {corpus['import_per_second']:.0f} a second, "
            "before the index build above.",
        ]
    best_recall = max(
        min(c["recall"] for c in f["classes"].values()) for n, f in engines.items() if n != "board"
    )
    board = engines["board"]["classes"]
    worst_p95 = max(c["p95_ms"] for c in board.values())
    lines += [
        "",
        "![p95 latency by query class and engine](results/search_latency.png)",
        "",
        "Targets: search p95 ≤ 30 ms in every class — board's worst class "
        f"{worst_p95:.0f} ms ({'met' if worst_p95 <= 30 else f'missed by {worst_p95 / 30:.1f}×'}); "
        f"recall ≥ the best peer's ({best_recall:.2f}) — board's lowest "
        f"{min(c['recall'] for c in board.values()):.2f}; full reindex < 60 s — "
        f"{engines['board']['build_seconds']:.0f} s.",
    ]
    return lines


def serving_section(serving):
    lines = [
        f"## Serving at {serving['notices']:,} notices",
        "",
        f"gunicorn with `gunicorn.conf.py` (4 sync workers, preloaded), wrk on loopback, "
        f"{serving['connections']} connections for {serving['seconds']} s per page. "
        "Ratios are to /healthz of the same app in the same run.",
        "",
        "| page | req/s | p95 | of trivial | non-2xx |",
        "|---|---|---|---|---|",
    ]
    for name, f in serving["pages"].items():
        lines.append(f"| {name} | {f['rps']:.0f} | {f['p95_ms']:.1f} ms | {f['ratio']:.0%} | {f['non_2xx']} |")
    pages = serving["pages"]
    rss = serving["worker_rss_mb"]
    lines += [
        "",
        f"Memory per worker: {', '.join(f'{m:.0f}' for m in rss)} MB. "
        f"First answer {serving['first_answer_s']:.2f} s after start.",
        "",
        f"Targets: notice page ≥ 60% of trivial — {pages['notice page']['ratio']:.0%}; "
        f"search page ≥ 30% — {pages['search page']['ratio']:.0%}; worker < 200 MB — "
        f"largest {max(rss):.0f} MB; first answer < 2 s — {serving['first_answer_s']:.2f} s.",
    ]
    return lines


def main():
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {time.strftime('%Y-%m-%d %H:%M')} "
        f"({platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}).",
        "",
    ]
    lines += search_section(load("search_peers.json")) + [""]
    lines += serving_section(load("serving.json")) + [""]
    notes = os.path.join(HERE, "NOTES.md")
    if os.path.exists(notes):
        with open(notes) as f:
            lines += [f.read()]
    with open(os.path.join(HERE, "RESULTS.md"), "w") as f:
        f.write("\n".join(lines))
    print("wrote bench/RESULTS.md")


if __name__ == "__main__":
    main()
