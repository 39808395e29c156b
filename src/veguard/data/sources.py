"""Source specs: one reader per bundled dataset, mapping it into the corpus schema.

Each reader takes the dataset's folder (`data/raw/<source>/`) and returns a `SourceRows`:
raw-schema rows (`id` without the source prefix, `text` not yet normalised, the four labels
as 1/0/-1, `context`, `group`) plus the rows it dropped on purpose, counted by reason.
Raw column names and label vocabularies are read here and nowhere else ("rename once, at
the edge"). Why each mapping is what it is lives in `data/DATASETS.md`.

Left out: normalisation, deduplication and splitting (see `corpus.py`); the synthetic and
contrast rows (`synthetic.py` / `augment.py`, adapted in `corpus.py`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from veguard.data.normalize import normalize
from veguard.data.schema import DataError, make_row
from veguard.taxonomy import NEGATIVE as N
from veguard.taxonomy import POSITIVE as P
from veguard.taxonomy import UNKNOWN as U


@dataclass
class SourceRows:
    rows: list[dict] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)  # reason -> count

    def add(self, id_: object, text: object, context: str, group: object, **labels: int) -> None:
        """One row; labels by keyword (`hate=P`), a category left out is unknown. The source
        name is filled in by the corpus builder."""
        text = "" if pd.isna(text) else str(text)
        self.rows.append(make_row(id_, text, context=context, source="", group=group, **labels))


def _read_table(path: Path, columns: list[str], **kw) -> pd.DataFrame:
    """Read a CSV/TSV as strings, failing with a message that names the file and the problem."""
    if not path.is_file():
        raise DataError(f"{path}: source file not found")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, **kw)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: cannot parse: {exc}") from exc
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; found {list(df.columns)}")
    return df


def _bad(path: Path, row: int, msg: str) -> DataError:
    # Data line = header line + 1 + 0-based row index (rows with embedded newlines shift
    # this; the row index is exact).
    return DataError(f"{path}: row {row + 1} (after the header): {msg}")


def _choice(path: Path, i: int, value: str, mapping: dict[str, object], name: str) -> object:
    if value not in mapping:
        raise _bad(path, i, f"unexpected {name} {value!r}; expected one of {sorted(mapping)}")
    return mapping[value]


# --------------------------------------------------------------------------- IS fanboy tweets

# Tweets shorter than this many content words (after removing URLs, mentions and the "RT"
# marker) are link shares, retweet shells or chatter: too little text to call propaganda.
MIN_CONTENT_WORDS = 5
_WORD = re.compile(r"#?[^\W\d_]{2,}")


def content_words(text: str) -> int:
    """Words of two or more letters, hashtags included, after placeholders are removed.

    >>> content_words("RT @user: [URL] #ISIS captured the city")
    4
    """
    text = normalize(text).replace("[URL]", " ").replace("@user", " ")
    return sum(1 for w in _WORD.findall(text) if w not in ("RT", "rt"))


def read_isis_fanboy_tweets(folder: Path) -> SourceRows:
    path = folder / "IsisFanboy.csv"
    df = _read_table(path, ["username", "tweetid", "tweets"])
    out = SourceRows()
    for i, r in enumerate(df.itertuples(index=False)):
        text = normalize(r.tweets)
        if text.startswith("@user"):
            out.dropped["reply to another account (conversation, not propaganda)"] += 1
        elif content_words(text) < MIN_CONTENT_WORDS:
            out.dropped[f"fewer than {MIN_CONTENT_WORDS} content words (link/retweet shell)"] += 1
        else:
            # tweetid is missing on one row: fall back to the row number so ids stay unique.
            out.add(
                r.tweetid or f"row{i}",
                r.tweets,
                "extremist_forum",
                f"user:{r.username}",
                extremism=P,
            )
    return out


# --------------------------------------------------------------------------- MIWS seed

# (file, id prefix, producing movement for the routing labels, `veguard.routing`)
MIWS_FILES = (("ISIS_Seed_Complete.csv", "isis", "islamic_state"),
              ("WS_Seed_Complete.csv", "ws", "white_supremacist"))
# MIWS's label as a GIFCT behaviour (taxonomy.BEHAVIOURS), for the routing model.
MIWS_BEHAVIOURS = {"Propaganda": "propaganda_branded",
                   "Recruitment": "recruitment_radicalisation_instruction",
                   "Radicalization": "recruitment_radicalisation_instruction"}


def read_miws_seed(folder: Path) -> SourceRows:
    # Every row is labelled Propaganda, Recruitment or Radicalization: all extremist. The
    # annotation says nothing about violence or hate, so those stay unknown.
    labels = {"Propaganda": P, "Recruitment": P, "Radicalization": P}
    out = SourceRows()
    for name, prefix, _ in MIWS_FILES:
        path = folder / name
        df = _read_table(path, ["Text", "Label"], encoding="utf-8-sig")
        for i, r in enumerate(df.itertuples(index=False)):
            ext = _choice(path, i, r.Label.strip(), labels, "Label")
            out.add(f"{prefix}{i}", r.Text, "extremist_forum", f"{prefix}{i}", extremism=ext)
    return out


def read_miws_routing(folder: Path) -> list[dict]:
    """MIWS rows as routing examples: {"id", "text", "movement", "behaviour"} (raw text).

    The ids are the corpus ids (`miws_seed:<prefix><row>`), so a caller can keep to a split.
    """
    out = []
    for name, prefix, movement in MIWS_FILES:
        path = folder / name
        df = _read_table(path, ["Text", "Label"], encoding="utf-8-sig")
        for i, r in enumerate(df.itertuples(index=False)):
            behaviour = _choice(path, i, r.Label.strip(), MIWS_BEHAVIOURS, "Label")
            out.append({"id": f"miws_seed:{prefix}{i}", "text": r.Text, "movement": movement,
                        "behaviour": behaviour})
    return out


# --------------------------------------------------------------------------- implicit hate

def read_implicit_hate(folder: Path) -> SourceRows:
    p1, p2 = folder / "implicit_hate_v1_stg1_posts.tsv", folder / "implicit_hate_v1_stg2_posts.tsv"
    s1 = _read_table(p1, ["post", "class"], sep="\t")
    s2 = _read_table(p2, ["post", "implicit_class", "extra_implicit_class"], sep="\t")
    # The release has no id column: stage 2 joins stage 1 on the post text.
    stage2: dict[str, set[str]] = {}
    for r in s2.itertuples(index=False):
        stage2.setdefault(r.post, set()).update(c for c in (r.implicit_class,
                                                           r.extra_implicit_class) if c)
    hate_of = {"explicit_hate": P, "implicit_hate": P, "not_hate": N}
    out = SourceRows()
    for i, r in enumerate(s1.itertuples(index=False)):
        hate = _choice(p1, i, r[1], hate_of, "class")
        classes = stage2.get(r.post, set()) if hate == P else set()
        # Incitement = elevating hate groups / in-group unity: the extremism label.
        ext = P if "incitement" in classes else U
        vio = P if "threatening" in classes else U
        out.add(i, r.post, "social", f"post{i}", extremism=ext, violence=vio, hate=hate)
    return out


# --------------------------------------------------------------------------- Davidson

def read_davidson_hate_offensive(folder: Path) -> SourceRows:
    path = folder / "labeled_data.csv"
    df = _read_table(path, ["class", "tweet"])
    first = df.columns[0]  # the unnamed row-id column
    # class 0 hate speech (also offensive in this scheme), 1 offensive only, 2 neither.
    mapping = {"0": (P, P), "1": (N, P), "2": (N, N)}
    out = SourceRows()
    for i, (rid, cls, tweet) in enumerate(zip(df[first], df["class"], df["tweet"])):
        hate, off = _choice(path, i, cls, mapping, "class")
        out.add(
            rid or i, tweet, "social", f"tweet{rid or i}", extremism=N, hate=hate, offensive=off
        )
    return out


# --------------------------------------------------------------------------- ETHOS

def _score(path: Path, i: int, value: str, name: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise _bad(path, i, f"{name} is not a number: {value!r}") from None


def read_ethos(folder: Path) -> SourceRows:
    pb, pm = folder / "Ethos_Dataset_Binary.csv", folder / "Ethos_Dataset_Multi_Label.csv"
    binary = _read_table(pb, ["comment", "isHate"], sep=";")
    multi = _read_table(pm, ["comment", "violence"], sep=";")
    # The multi-label file annotates only the hateful comments; join on the comment text.
    violence = {r.comment: _score(pm, i, r.violence, "violence") >= 0.5
                for i, r in enumerate(multi.itertuples(index=False))}
    out = SourceRows()
    for i, r in enumerate(binary.itertuples(index=False)):
        hate = P if _score(pb, i, r.isHate, "isHate") >= 0.5 else N
        vio = (P if violence[r.comment] else N) if r.comment in violence else U
        out.add(i, r.comment, "social", f"comment{i}", violence=vio, hate=hate)
    return out


# --------------------------------------------------------------------------- Hatemoji

def read_hatemoji_build(folder: Path) -> SourceRows:
    frames = []
    for name in ("train.csv", "validation.csv", "test.csv"):
        path = folder / name
        df = _read_table(path, ["entry_id", "text", "type", "label_gold", "matched_id"])
        frames.append((path, df))
    # Perturbation pairs can chain (a->b, b->c): group by connected component.
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for _, df in frames:
        for a, b in zip(df["entry_id"], df["matched_id"]):
            parent[find(a)] = find(b)
    out = SourceRows()
    for path, df in frames:
        for i, r in enumerate(df.itertuples(index=False)):
            hate = _choice(path, i, r.label_gold, {"1": P, "0": N}, "label_gold")
            # Threat is one of the mutually exclusive hate types, so a hateful entry of
            # another type is a violence negative; non-hateful entries were never typed.
            vio = P if r.type == "threateninglanguage" else (N if hate == P else U)
            out.add(
                r.entry_id, r.text, "social", f"pair{find(r.entry_id)}", violence=vio, hate=hate
            )
    return out


# --------------------------------------------------------------------------- Stormfront

def read_stormfront(folder: Path) -> SourceRows:
    path = folder / "stormfront_sentences.csv"
    df = _read_table(path, ["file_id", "text", "label", "user_id"])
    out = SourceRows()
    for i, r in enumerate(df.itertuples(index=False)):
        label = _choice(path, i, r.label, {"hate": P, "noHate": N, "relation": None,
                                            "idk/skip": None}, "label")
        if label is None:
            # "relation": hateful only together with neighbouring sentences, so the sentence
            # alone has no label; "idk/skip": the annotator could not decide.
            out.dropped[f"label {r.label} (no sentence-level label)"] += 1
            continue
        out.add(r.file_id, r.text, "extremist_forum", f"user:{r.user_id}", hate=label)
    return out


# --------------------------------------------------------------------------- ToxiGen seeds

def read_toxigen_seed_sentences(folder: Path) -> SourceRows:
    path = folder / "toxigen_seed_sentences.csv"
    df = _read_table(path, ["text", "target_group", "prompt_label"])
    out = SourceRows()
    for i, r in enumerate(df.itertuples(index=False)):
        hate = _choice(path, i, r.prompt_label, {"hate": P, "neutral": N}, "prompt_label")
        out.add(i, r.text, "social", f"row{i}", hate=hate)
    return out


# --------------------------------------------------------------------------- counter-speech

def read_counterspeech_reddit(folder: Path) -> SourceRows:
    out = SourceRows()
    # Yu et al. 2022 and the validation set label the *reply*: 0 neutral, 1 hate, 2 counter-hate.
    reply_labels = {"0": "neutral", "1": "hate", "2": "counter"}
    path = folder / "yu_et_al_2022.csv"
    df = _read_table(path, ["label", "parent", "reply"])
    for i, r in enumerate(df.itertuples(index=False)):
        kind = _choice(path, i, r.label, reply_labels, "label")
        # Parents are unlabelled here; the group is the parent text so a thread stays together.
        # `idx` restarts per original split, so the row number is the stable id.
        _reply(out, f"y22:{i}", r.reply, kind, f"parent:{normalize(r.parent).casefold()}")
    out.dropped["yu_et_al_2022 parent (unlabelled)"] += len(df)

    path = folder / "validation_set.csv"
    df = _read_table(path, ["id", "parent", "reply", "label", "target"])
    for i, r in enumerate(df.itertuples(index=False)):
        kind = _choice(path, i, r.label, reply_labels, "label")
        _reply(out, f"val:{r.id}:{r.target}", r.reply, kind, f"thread:{r.id}")

    # Yu et al. 2023 collected replies to posts it calls hateful (abusive, see ABUSIVE_NOT_HATE);
    # the reply's `counterspeech` is 0 neutral, 1 agrees with the parent, 2 counter-speech.
    path = folder / "yu_et_al_2023.csv"
    df = _read_table(path, ["Hate_ID", "Reply_ID", "parent", "reply", "counterspeech"])
    seen: set[str] = set()
    for i, r in enumerate(df.itertuples(index=False)):
        if r.Hate_ID not in seen:
            seen.add(r.Hate_ID)
            out.dropped[ABUSIVE_NOT_HATE + " (yu_et_al_2023 parent)"] += 1
        cs = {"0.0": "0", "1.0": "1", "2.0": "2"}.get(r.counterspeech, r.counterspeech)
        kind = _choice(path, i, cs, {"0": "neutral", "1": "agree", "2": "counter"},
                       "counterspeech")
        if kind == "agree":
            # Agreeing with a hateful post is not itself annotated as hateful or not.
            out.dropped["yu_et_al_2023 reply agreeing with the hate (unlabelled)"] += 1
            continue
        _reply(out, f"y23:{i}:{r.Reply_ID}", r.reply, kind, f"hate:{r.Hate_ID}")
    return out


# The source's "hate" is broader than POLICY.md's: abusive replies and posts of any kind
# ("The fucking article is a good start!", insults at a politician or a subreddit), most with no
# protected characteristic in sight. Taught as hate, they taught profanity = hate; taught as
# not-hate, they would unteach the real hate among them. So they are not used.
ABUSIVE_NOT_HATE = "'hate' means abusive in this source, not POLICY.md's hate (unlabelled here)"


def _reply(out: SourceRows, id_: str, text: str, kind: str, group: str) -> None:
    if kind == "hate":
        out.dropped[ABUSIVE_NOT_HATE] += 1
    elif kind == "counter":
        # Counter-speech is often rude to the hater, so offensive stays unknown.
        out.add(id_, text, "counter_speech", group, extremism=N, violence=N, hate=N)
    else:
        out.add(id_, text, "social", group, extremism=N, violence=N, hate=N)


# --------------------------------------------------------------------------- hard negatives

def read_ag_news_test(folder: Path) -> SourceRows:
    path = folder / "test.csv"
    df = _read_table(path, ["0", "1", "2"], header=None, names=["0", "1", "2"])
    out = SourceRows()
    for i, r in enumerate(df.itertuples(index=False)):
        # Title and description together, as a reader sees them; "\" marks newlines.
        text = f"{r[1]}. {r[2]}".replace("\\", " ")
        out.add(i, text, "news", f"row{i}", extremism=N, violence=N, hate=N, offensive=N)
    return out


def read_quran_en(folder: Path) -> SourceRows:
    path = folder / "quran_en.json"
    if not path.is_file():
        raise DataError(f"{path}: source file not found")
    try:
        surahs = json.loads(path.read_text(encoding="utf-8"))
        verses = [(s["id"], v["id"], v["translation"]) for s in surahs for v in s["verses"]]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: malformed Quran JSON: {exc!r}") from exc
    out = SourceRows()
    for sid, vid, text in verses:
        # Per surah: neighbouring verses share phrasing, so keep a surah in one split.
        out.add(
            f"{sid}:{vid}",
            text,
            "religious",
            f"surah{sid}",
            extremism=N,
            violence=N,
            hate=N,
            offensive=N,
        )
    return out


Reader = Callable[[Path], SourceRows]

# The registry: source name (= folder under data/raw/) -> reader.
SOURCES: dict[str, Reader] = {
    "isis_fanboy_tweets": read_isis_fanboy_tweets,
    "miws_seed": read_miws_seed,
    "implicit_hate": read_implicit_hate,
    "davidson_hate_offensive": read_davidson_hate_offensive,
    "ethos": read_ethos,
    "hatemoji_build": read_hatemoji_build,
    "stormfront": read_stormfront,
    "toxigen_seed_sentences": read_toxigen_seed_sentences,
    "counterspeech_reddit": read_counterspeech_reddit,
    "ag_news_test": read_ag_news_test,
    "quran_en": read_quran_en,
}

# When near-duplicates from different sources disagree, the earlier source here wins: the
# more specific annotation (extremism-focused, then careful hate sets, then broad ones).
SOURCE_PRIORITY: tuple[str, ...] = (
    "review_queue", "veguard_synthetic", "veguard_contrast", "miws_seed", "isis_fanboy_tweets",
    "hatemoji_build", "ethos", "implicit_hate", "counterspeech_reddit", "stormfront",
    "toxigen_seed_sentences", "davidson_hate_offensive", "quran_en", "ag_news_test",
)
