"""Banks benchmark: recall on edited reposts, false matches, lookups/s and memory, for veguard's
matcher and, side by side, threatexchange's raw-text (Levenshtein) and TLSH text signals.

    python bench/banks.py [--entries 1000000] [--known 2000] [--unrelated 5000] [--out FILE]

Data (all from data/processed/corpus.parquet, without the rows veguard wrote (sources
`veguard_*`, context `synthetic`: template-built, so near-duplicates of each other by
construction); texts deduplicated by exact hash):
- known: `--known` corpus texts, the bank's verified entries;
- reposts of each known text, edited six ways (`EDITS`): handles and links, emoji, line breaks,
  10-20% of words replaced, all of those at once, and a partial quote (a contiguous 60-80% of
  the text between 8-20 words of someone else's text);
- unrelated: `--unrelated` other corpus texts (any match of one is counted as a false match,
  although a few may be genuine near-duplicates in the corpus: the JSON lists them);
- filler: the rest of the corpus, then word-salad texts drawn from the corpus's word
  frequencies with its length distribution, up to `--entries` entries. They exercise scale,
  memory and chance collisions of common words, not realism.

threatexchange's indexes are linear scans (every query compares against every entry), so they
are measured on a bank of the first `--te-known` known texts only, and veguard is measured on
that same small bank as well, for a like-for-like row; lookups/s at 1M entries for a linear
scan is that figure divided by (1M / bank size), and the table says so.

Writes JSON (`--out`, default bench/results/banks.json; not committed) and prints a Markdown
table for docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from report import markers, put_marked

from veguard.banks import signature as sg
from veguard.banks.index import BANDS, ROWS, Index

EMOJI = ["🔥", "💀", "🏴", "⚔️", "👇", "🙏", "💯", "😡", "🇺🇸", "✊"]
EDITS = ("handles", "emoji", "linebreaks", "words_10_20", "combined", "partial_quote")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


# -- edits --------------------------------------------------------------------------------
def e_handles(t: str, rng: random.Random, vocab) -> str:
    words = [w if not w.startswith("@") else f"@{rng.choice(vocab)}_{rng.randint(1, 999)}"
             for w in t.split()]
    return f"@{rng.choice(vocab)}{rng.randint(1, 99)} " + " ".join(words) + \
        f" https://t.me/{rng.choice(vocab)}{rng.randint(1, 999)}"


def e_emoji(t: str, rng: random.Random, vocab) -> str:
    words = t.split()
    for _ in range(rng.randint(1, 3)):
        words.insert(rng.randint(0, len(words)), rng.choice(EMOJI) * rng.randint(1, 3))
    return " ".join(words)


def e_linebreaks(t: str, rng: random.Random, vocab) -> str:
    words = t.split()
    out = []
    for w in words:
        out.append(w)
        out.append(rng.choice(["\n", "\n\n", " "]) if rng.random() < 0.25 else " ")
    return "".join(out).strip()


def e_words(t: str, rng: random.Random, vocab) -> str:
    words = t.split()
    n = max(1, round(len(words) * rng.uniform(0.10, 0.20)))
    for i in rng.sample(range(len(words)), min(n, len(words))):
        words[i] = rng.choice(vocab)
    return " ".join(words)


def e_combined(t: str, rng: random.Random, vocab) -> str:
    return e_linebreaks(e_emoji(e_handles(e_words(t, rng, vocab), rng, vocab), rng, vocab),
                        rng, vocab)


def e_partial(t: str, rng: random.Random, vocab, other: str = "") -> str:
    words = t.split()
    k = max(1, round(len(words) * rng.uniform(0.6, 0.8)))
    s = rng.randint(0, len(words) - k)
    ow = other.split()
    pre = ow[: rng.randint(4, 10)]
    post = ow[-rng.randint(4, 10):] if len(ow) > 10 else []
    return " ".join(pre + words[s : s + k] + post)


EDIT_FUNCS = {"handles": e_handles, "emoji": e_emoji, "linebreaks": e_linebreaks,
              "words_10_20": e_words, "combined": e_combined}


# -- data ---------------------------------------------------------------------------------
def load_texts(seed: int) -> list[str]:
    import pandas as pd

    df = pd.read_parquet(ROOT / "data/processed/corpus.parquet",
                         columns=["text", "context", "source"])
    # Rows veguard wrote (synthetic examples, contrast frames around them) are built from
    # templates, so they are near-duplicates of each other by construction: leave them out.
    written = (df.context == "synthetic") | df.source.str.startswith("veguard_")
    texts = df.loc[~written, "text"].tolist()
    seen, out = set(), []
    for t in texts:
        h = sg.exact_hash(t)
        if h not in seen and t.strip():
            seen.add(h)
            out.append(t)
    random.Random(seed).shuffle(out)
    return out


def word_salad(n: int, texts: list[str], rng: np.random.Generator, chunk: int = 50_000):
    """n texts of words drawn by corpus frequency, lengths drawn from the corpus's."""
    words = [w for t in texts[:50_000] for w in t.split()]
    lengths = np.array([len(t.split()) for t in texts[:50_000]])
    vocab, counts = np.unique(np.array(words, dtype=object), return_counts=True)
    p = counts / counts.sum()
    done = 0
    while done < n:
        k = min(chunk, n - done)
        lens = rng.choice(lengths, size=k)
        drawn = rng.choice(len(vocab), size=int(lens.sum()), p=p)
        bounds = np.concatenate([[0], np.cumsum(lens)])
        for i in range(k):
            yield " ".join(vocab[drawn[bounds[i] : bounds[i + 1]]])
        done += k


def make_queries(known, unrelated_pool, rng, vocab):
    queries = []  # (text, known index or -1, edit)
    for i, t in enumerate(known):
        for e in EDITS:
            if e == "partial_quote":
                q = e_partial(t, rng, vocab, rng.choice(unrelated_pool))
            else:
                q = EDIT_FUNCS[e](t, rng, vocab)
            queries.append((q, i, e))
    return queries


# -- systems ------------------------------------------------------------------------------
class Veguard:
    name = "veguard (exact + MinHash LSH)"

    def __init__(self, threshold: float):
        self.index = Index()
        self.threshold = threshold

    def add(self, texts, first_id=0):
        hexes, sigs = [], []
        for t in texts:
            digest, ps = sg.entry_passages(t)
            hexes.append(digest)
            ok = ps and ps[0].n_tokens >= sg.MIN_TOKENS
            sigs.append(np.stack([p.signature for p in ps]) if ok
                        else np.zeros((0, sg.NUM_PERM), np.uint32))
        n = len(texts)
        ids = np.arange(first_id, first_id + n)
        self.index.add_many(ids, np.zeros(n), -np.ones(n), -np.ones(n), hexes, sigs)

    def build(self):
        self.index.build()

    def query(self, text) -> set[int]:
        toks = sg.tokens(text)
        rows = set(self.index.exact(toks.sha256))
        if len(toks) >= sg.MIN_TOKENS:
            for p in sg.passages(toks, sg.QUERY_STRIDE):
                rows.update(r for r, _ in self.index.near(p.signature, self.threshold))
        return {int(self.index.entry_id[r]) for r in rows}


class TERawText:
    name = "threatexchange raw_text (Levenshtein <= 5%, linear)"

    def __init__(self):
        from threatexchange.signal_type.raw_text import RawTextSignal

        self.sig = RawTextSignal
        self.entries = []
        self.errors = 0

    def add(self, texts, first_id=0):
        self.entries += [(t, first_id + i) for i, t in enumerate(texts)]

    def build(self):
        self.index = self.sig.get_index_cls().build(self.entries)

    def query(self, text) -> set[int]:
        # weighted_levenshtein takes ASCII only: a query with emoji or any non-ASCII letter
        # raises (UnicodeEncodeError). Counted, and treated as no match.
        try:
            return {m.metadata for m in self.index.query(text)}
        except UnicodeEncodeError:
            self.errors += 1
            return set()


class TETLSH:
    name = "threatexchange text_tlsh (TLSH diff <= 30, linear)"

    def __init__(self):
        from threatexchange.extensions.tlsh.text_tlsh import TextTLSHSignal

        self.sig = TextTLSHSignal
        self.entries = []
        self.unhashable = 0

    def add(self, texts, first_id=0):
        for i, t in enumerate(texts):
            h = self.sig.hash_from_str(t)
            if h:
                self.entries.append((h, first_id + i))
            else:
                self.unhashable += 1

    def build(self):
        pass  # TextTLSHSignal ships no index class: a linear scan with its compare_hash

    def query(self, text) -> set[int]:
        h = self.sig.hash_from_str(text)
        if not h:
            return set()
        return {i for e, i in self.entries if self.sig.compare_hash(h, e).match}


class Datasketch:
    """datasketch's MinHash + MinHashLSH (same shingles, number of permutations and (bands,
    rows) as veguard's index), for the memory and speed comparison in index.py's docstring."""

    name = "datasketch MinHashLSH (in-memory dict storage)"

    def __init__(self, threshold: float):
        from datasketch import MinHash, MinHashLSH

        self.MinHash = MinHash
        self.lsh = MinHashLSH(threshold=threshold, num_perm=sg.NUM_PERM, params=(BANDS, ROWS))
        self.threshold = threshold
        self.sigs: dict[int, np.ndarray] = {}
        proto = MinHash(num_perm=sg.NUM_PERM, seed=1)
        self._perm, self._scheme = proto.permutations, proto.scheme  # reused, not redrawn

    def _verified(self, key, m) -> bool:
        return float((self.sigs[key] == m.hashvalues).mean()) >= self.threshold

    def _mh(self, words):
        m = self.MinHash(num_perm=sg.NUM_PERM, permutations=self._perm, scheme=self._scheme)
        m.update_batch([s.encode("utf-8") for s in sg.shingles(words)])
        return m

    def add(self, texts, first_id=0):
        with self.lsh.insertion_session() as session:
            for i, t in enumerate(texts):
                toks = sg.tokens(t)
                if len(toks) >= sg.MIN_TOKENS:
                    m = self._mh(toks.words)
                    self.sigs[first_id + i] = m.hashvalues  # kept to verify candidates
                    session.insert(first_id + i, m, check_duplication=False)

    def build(self):
        pass

    def query(self, text) -> set[int]:
        toks = sg.tokens(text)
        if len(toks) < sg.MIN_TOKENS:
            return set()
        m = self._mh(toks.words)
        return {k for k in self.lsh.query(m) if self._verified(k, m)}


def evaluate(system, queries, unrelated, known_n, corpus_ids=range(0),
             long_enough=None) -> dict:
    """Recall per edit, and false matches: an unrelated text matching a known or word-salad
    entry. A match with another *corpus* text in the bank (`corpus_ids`) is counted apart, as
    `corpus_duplicate`: the corpus has real near-duplicates (retweets, scripture in several
    translations), and a bank should match those."""
    found = {e: [0, 0] for e in EDITS}
    longer = [0, 0]  # whole-text edits of known texts of >= MIN_TOKENS words
    t0, c0 = time.perf_counter(), time.process_time()
    for q, i, e in queries:
        hit = i in system.query(q)
        found[e][1] += 1
        found[e][0] += hit
        if long_enough is not None and long_enough[i] and e != "partial_quote":
            longer[1] += 1
            longer[0] += hit
    t_known = time.perf_counter() - t0
    false, examples, dup, dup_examples = 0, [], 0, []
    t0 = time.perf_counter()
    for u in unrelated:
        hits = system.query(u)
        bad = {h for h in hits if h not in corpus_ids}
        if bad:
            false += 1
            if len(examples) < 5:
                examples.append({"query": u[:160], "entries": sorted(bad)[:3]})
        elif hits:
            dup += 1
            if len(dup_examples) < 5:
                dup_examples.append({"query": u[:160], "entries": sorted(hits)[:3]})
    t_unrel = time.perf_counter() - t0
    cpu = time.process_time() - c0
    n = len(queries) + len(unrelated)
    rec = {e: round(a / b, 4) for e, (a, b) in found.items()}
    allq = sum(a for a, _ in found.values()) / max(1, sum(b for _, b in found.values()))
    return {"system": system.name, "recall": rec, "recall_all": round(allq, 4),
            "recall_min_tokens": round(longer[0] / max(1, longer[1]), 4),
            "false_match_rate": round(false / max(1, len(unrelated)), 5), "false_matches": false,
            "false_examples": examples,
            "corpus_duplicate_rate": round(dup / max(1, len(unrelated)), 5),
            "corpus_duplicates": dup, "corpus_duplicate_examples": dup_examples,
            "lookups_per_s": round(n / (t_known + t_unrel), 1),
            "lookups_per_cpu_s": round(n / max(cpu, 1e-9), 1),
            "unrelated_lookups_per_s": round(len(unrelated) / max(t_unrel, 1e-9), 1),
            "queries": n}


def short_lookup_rate(system, texts, seconds: float = 10.0, cpu: bool = False) -> float:
    """Lookups per wall-clock second, or per CPU second of this process (`cpu`): on a shared
    machine the second says what the code costs, the first what this run got."""
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        system.query(texts[n % len(texts)])
        n += 1
    return n / ((time.process_time() - c0) if cpu else (time.perf_counter() - t0))


def parallel_rate(system, texts, procs: int, seconds: float = 10.0) -> float:
    """Lookups/s over `procs` forked processes sharing the built index copy-on-write."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    with ctx.Pool(procs) as pool:
        rates = pool.starmap(short_lookup_rate,
                             [(system, texts[i::procs], seconds) for i in range(procs)])
    return sum(rates)


BEGIN, END = markers("banks")


def _rel(path: str) -> str:
    p = Path(path).resolve()
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p)


def section(res: dict) -> str:
    """The Banks section of docs/PERFORMANCE.md: a pure function of the results JSON."""
    sy = res["systems"]
    big = sy[-1]
    a = res["args"]
    procs = a["procs"]
    par = big.get(f"short_lookups_per_s_{procs}proc")
    lines = [
        BEGIN, "## Banks (known content)", "",
        (f"Generated by `python bench/banks.py --docs` ({res['started']}, {res['wall_s']:.0f} s "
        f"wall); raw figures in `{_rel(a['out'])}`. "
        f"Machine: {res['machine']} (shared with other engineers' jobs: load average "
        f"{res['load_start'][0]:.1f} at the start, {res['load_end'][0]:.1f} at the end), so "
        "wall-clock rates are lower bounds; the per-CPU-second rate says what the code costs."),
        "",
        (f"Data: {a['known']:,} known corpus texts (not the rows veguard wrote), each reposted six "
        f"ways (bench/banks.py's EDITS), and {a['unrelated']:,} other corpus texts as unrelated "
        "queries. Recall = share of reposts that find their own entry. False-match rate = share "
        "of unrelated texts that match a known or word-salad entry; 'corpus near-dups' = share "
        "that match another corpus text in the bank (the corpus holds real duplicates: retweets, "
        "scripture in several translations; examples in the JSON). Threshold "
        f"{a['threshold']}, {sg.NUM_PERM} permutations, {BANDS_ROWS}."),
        "",
        render(res), "",
        (f"- Scale: **{big['bank_entries']:,} entries** ({big['passages']:,} passages: the known "
        "texts, the rest of the corpus, then word salad drawn from corpus word frequencies), "
        f"built in {big['build_s']:.0f} s; index arrays {big['index_mb']:.0f} MB, process RSS "
        f"grew {big['rss_growth_mb']:.0f} MB."),
        f"- Short texts (<= 40 words): **{big['short_lookups_per_s_1proc']:,.0f} lookups/s** in "
        f"one process (wall clock), {big['short_lookups_per_cpu_s']:,.0f} per CPU second"
        + (f"; {par:,.0f}/s with {procs} processes sharing the index (fork, copy-on-write)"
           if par else "") + ". Goal >= 5,000/s on 2 cores: "
        + ("met" if max(big["short_lookups_per_s_1proc"], par or 0) >= 5000
           else "not met on this run") +
        f" (per CPU second: {'met' if big['short_lookups_per_cpu_s'] >= 5000 else 'not met'}).",
        (f"- Known texts with fewer than {sg.MIN_TOKENS} words are matched exactly only (short "
        f"phrases are too common to near-match); {res['known_with_min_tokens']:,} of "
        f"{a['known']:,} known texts are longer, and their whole-text reposts' recall (all "
         "edits but the partial quote) is "
        f"{big['recall_min_tokens']:.1%}."),
    ]
    te = [r for r in sy if r["system"].startswith("threatexchange")]
    for r in te:
        if "queries_raising_unicode_error" in r:
            lines.append(f"- threatexchange raw_text: {r['queries_raising_unicode_error']} of "
                         f"{r['queries']} queries raised UnicodeEncodeError (its Levenshtein "
                         "takes ASCII only: emoji, accents, any non-Latin script); counted as "
                         "no match. It is a linear scan: at 1M entries its rate would be "
                         f"~{r['lookups_per_s'] * r['bank_entries'] / 1e6:.2f} lookups/s.")
        if "unhashable_entries" in r:
            lines.append(f"- threatexchange text_tlsh: {r['unhashable_entries']} of "
                         f"{r['bank_entries']} known texts have no TLSH (too short; TLSH needs "
                         "~50 bytes), and neither do most short reposts. Linear scan too.")
    ds = [r for r in sy if r["system"].startswith("datasketch")]
    if ds:
        d = ds[0]
        v = next(r for r in sy if r["system"].startswith("veguard")
                 and r["bank_entries"] == d["bank_entries"] and r is not d)
        lines.append(f"- datasketch `MinHashLSH` on the same {d['bank_entries']:,} entries, "
                     "same shingles and bands, candidates verified (each system built and "
                     "measured in turn in one process, veguard first): RSS grew "
                     f"{d['rss_growth_mb']:.0f} MB vs {v['rss_growth_mb']:.0f} MB for veguard "
                     f"(its index arrays: {v.get('index_mb', float('nan')):.0f} MB), "
                     f"build {d['build_s']:.0f} s vs {v['build_s']:.0f} s, "
                     f"{d['lookups_per_cpu_s']:,.0f} vs {v['lookups_per_cpu_s']:,.0f} lookups per "
                     "CPU second (all queries), recall "
                     f"{d['recall_all']:.1%} vs {v['recall_all']:.1%} (veguard's exact hash "
                     "adds the short texts).")
    lines += ["", END]
    return "\n".join(lines)


BANDS_ROWS = f"LSH {BANDS} bands x {ROWS} rows"


def write_docs(res: dict) -> Path:
    """Replace (or append) the Banks section of docs/PERFORMANCE.md; bench/report.py keeps it
    when it rewrites the rest of the file."""
    return put_marked(ROOT / "docs/PERFORMANCE.md", "banks", section(res))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--entries", type=int, default=1_000_000)
    p.add_argument("--known", type=int, default=2000)
    p.add_argument("--unrelated", type=int, default=5000)
    p.add_argument("--te-known", type=int, default=300, help="bank size for the linear scans")
    p.add_argument("--te-unrelated", type=int, default=1000)
    p.add_argument("--threshold", type=float, default=0.4)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--seed", type=int, default=14)
    p.add_argument("--skip-te", action="store_true")
    p.add_argument("--ds-entries", type=int, default=100_000,
                   help="bank size for the datasketch comparison (0: skip)")
    p.add_argument("--out", default=str(ROOT / "runs/bench/banks.json"))
    p.add_argument("--docs", action="store_true",
                   help="write the Banks section of docs/PERFORMANCE.md from the results")
    p.add_argument("--render", metavar="JSON",
                   help="only re-render the Banks section from a saved results file")
    args = p.parse_args(argv)
    if args.render:
        write_docs(json.loads(Path(args.render).read_text(encoding="utf-8")))
        return 0
    rng = random.Random(args.seed)
    t0 = t_start = time.perf_counter()
    texts = load_texts(args.seed)
    vocab = [w for t in texts[:20_000] for w in t.split() if w.isalpha()]
    known = texts[: args.known]
    unrelated = texts[args.known : args.known + args.unrelated]
    rest = texts[args.known + args.unrelated :]
    queries = make_queries(known, unrelated, rng, vocab)
    long_enough = [len(sg.tokens(t)) >= sg.MIN_TOKENS for t in known]
    print(f"{len(texts)} corpus texts, {len(queries)} edited reposts "
          f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    result = {"machine": f"{os.cpu_count()} CPUs, shared", "args": vars(args), "systems": [],
              "known_with_min_tokens": sum(long_enough), "load_start": os.getloadavg(),
              "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}

    # like-for-like with the linear scans, on a small bank
    small_known = known[: args.te_known]
    small_q = [q for q in queries if q[1] < args.te_known]
    small_u = unrelated[: args.te_unrelated]
    systems = [Veguard(args.threshold)] + ([] if args.skip_te else [TERawText(), TETLSH()])
    for s in systems:
        s.add(small_known)
        s.build()
        r = evaluate(s, small_q, small_u, len(small_known), long_enough=long_enough)
        r["bank_entries"] = len(small_known)
        if isinstance(s, TETLSH):
            r["unhashable_entries"] = s.unhashable
        if isinstance(s, TERawText):
            r["queries_raising_unicode_error"] = s.errors
        result["systems"].append(r)
        print(json.dumps(r), file=sys.stderr)

    # datasketch and veguard's index on the same mid-sized bank: memory and speed
    if args.ds_entries:
        bank = known + rest[: max(0, args.ds_entries - len(known))]
        # veguard first: memory freed by the first system is reused by the second, which
        # would understate the second's RSS growth (for datasketch that errs in its favour).
        for cls in (Veguard, Datasketch):
            gc.collect()
            rss0 = rss_mb()
            t0 = time.perf_counter()
            s = cls(args.threshold)
            s.add(known)
            s.add(bank[len(known):], first_id=len(known))
            s.build()
            build_s = time.perf_counter() - t0
            gc.collect()
            grown = rss_mb() - rss0
            r = evaluate(s, queries, unrelated, len(known), range(len(known), len(bank)),
                         long_enough=long_enough)
            r.update(bank_entries=len(bank), build_s=round(build_s, 1),
                     rss_growth_mb=round(grown, 1))
            if isinstance(s, Veguard):
                r["index_mb"] = round(s.index.nbytes() / 2**20, 1)
            result["systems"].append(r)
            print(json.dumps(r), file=sys.stderr)
            del s
    # veguard at scale
    gc.collect()
    rss0 = rss_mb()
    v = Veguard(args.threshold)
    t0 = time.perf_counter()
    v.add(known)
    added = len(known)
    filler = rest[: max(0, args.entries - added)]
    for i in range(0, len(filler), 50_000):
        v.add(filler[i : i + 50_000], first_id=added)
        added += len(filler[i : i + 50_000])
    corpus_ids = range(len(known), added)
    salad_rng = np.random.default_rng(args.seed)
    buf = []
    for t in word_salad(max(0, args.entries - added), texts, salad_rng):
        buf.append(t)
        if len(buf) == 50_000:
            v.add(buf, first_id=added)
            added += len(buf)
            buf = []
            print(f"  {added} entries ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    if buf:
        v.add(buf, first_id=added)
        added += len(buf)
    v.build()
    build_s = time.perf_counter() - t0
    gc.collect()
    rss1 = rss_mb()
    r = evaluate(v, queries, unrelated, len(known), corpus_ids, long_enough)
    shorts = [q for q, _, e in queries if e != "partial_quote" and len(q.split()) <= 40]
    shorts += [u for u in unrelated if len(u.split()) <= 40]
    random.Random(1).shuffle(shorts)
    r.update(bank_entries=added, passages=v.index.n_passages, build_s=round(build_s, 1),
             index_mb=round(v.index.nbytes() / 2**20, 1), rss_growth_mb=round(rss1 - rss0, 1),
             short_lookups_per_s_1proc=round(short_lookup_rate(v, shorts), 1),
             short_lookups_per_cpu_s=round(short_lookup_rate(v, shorts, cpu=True), 1),
             load_average=os.getloadavg())
    if args.procs > 1:
        r[f"short_lookups_per_s_{args.procs}proc"] = round(parallel_rate(v, shorts, args.procs), 1)
    result["systems"].append(r)
    print(json.dumps(r), file=sys.stderr)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result["load_end"] = os.getloadavg()
    result["wall_s"] = round(time.perf_counter() - t_start, 1)
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(render(result))
    if args.docs:
        write_docs(result)
    return 0


def render(result: dict) -> str:
    lines = ["| system | bank entries | " + " | ".join(EDITS) + " | all | false-match rate "
             "| corpus near-dups | lookups/s (wall) | lookups per CPU s |",
             "|---" * (len(EDITS) + 8) + "|"]
    for r in result["systems"]:
        rec = " | ".join(f"{r['recall'][e]:.1%}" for e in EDITS)
        lines.append(f"| {r['system']} | {r['bank_entries']:,} | {rec} | {r['recall_all']:.1%} "
                     f"| {r['false_match_rate']:.2%} ({r['false_matches']}) "
                     f"| {r['corpus_duplicate_rate']:.2%} | {r['lookups_per_s']:,.0f} "
                     f"| {r['lookups_per_cpu_s']:,.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
