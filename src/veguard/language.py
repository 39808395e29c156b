"""Language and script of a text, and the part of it the English model can read.

veguard's models are trained on English. Text in other languages and scripts reaches a BERT
vocabulary letter by letter (Arabic, Persian, Urdu, Pashto) or as `[UNK]` (Han), and in the
training corpus Arabic script occurs almost only in pro-IS tweets, so an English model judges
such text by its script. This module decides, before any model runs, what may be judged:

- `read(text)` returns a `Reading`: the language (ISO 639-1 code from `py3langid`, which ships
  its model in the wheel and covers Pashto, Dari/Persian, Urdu, Arabic, Tajik, Uzbek and
  Russian), the dominant script, whether the text is `supported`, and `english_view`: the text
  with every letter of a non-Latin script replaced by a space. The view has the same length as
  the text, so evidence offsets computed on it are offsets into the text.
- A text is supported when its Latin-script part may be English: `py3langid` says so, or is
  not confident of another language, or enough of its words are common English function words
  (short and slangy English posts are often mislabelled by character n-gram models; a violation
  written in English must not escape review because of that). A mixed post (Arabic and
  English) is judged on its English part. Romanised Urdu/Hindi ("kya haal hai sab ka?"), which
  `py3langid` reads as English or some other Latin-script language, is recognised by a small
  lexicon of its common words and reported as language "ur", script "latin", unsupported;
  code-mixed posts that are mostly English stay English.
  Text with no letters at all (emoji, numbers, links) is supported: emoji are mapped to English
  names before the model sees them.

- `emoji_to_words(text)` spells each emoji as its English name ("I love 🏳️‍🌈" -> "I love white
  flag rainbow"), with a span map back to the text, so the model sees what the tokenizer would
  otherwise turn into `[UNK]`, and evidence still points at the emoji.

What it leaves out: translation, and judging unsupported text in any other way. Callers report
`supported: false` and never flag such text from the English model; known-content matching
(banks) works on any language.

>>> r = read("Eid Mubarak to everyone celebrating today!")
>>> r.language, r.supported
('en', True)
>>> read("صبح بخیر، امروز هوا خیلی خوب است").supported
False
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import emoji

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en",)

# Letter ranges by script (the first match wins; Latin includes its extensions and IPA).
_SCRIPTS: tuple[tuple[str, str], ...] = (
    ("latin", "A-Za-z\u00c0-\u024f\u1e00-\u1eff"),
    ("arabic", "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff"),
    ("cyrillic", "\u0400-\u052f"),
    ("greek", "\u0370-\u03ff"),
    ("hebrew", "\u0590-\u05ff"),
    ("devanagari", "\u0900-\u097f"),
    ("bengali", "\u0980-\u09ff"),
    ("gurmukhi", "\u0a00-\u0a7f"),
    ("thai", "\u0e00-\u0e7f"),
    ("hangul", "\uac00-\ud7af\u1100-\u11ff"),
    ("kana", "\u3040-\u30ff"),
    ("han", "\u4e00-\u9fff\u3400-\u4dbf"),
)
_SCRIPT_RE = {name: re.compile(f"[{chars}]") for name, chars in _SCRIPTS}
# A letter (Unicode word character that is not a digit or underscore) outside the Latin ranges.
_NON_LATIN_LETTER = re.compile(r"[^\W\d_A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
# Arabic-script and other combining marks that belong to the letters they follow.
_MARKS = re.compile("[\u064b-\u065f\u0670\u06d6-\u06ed\u0300-\u036f]")
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f']+")
_LETTER = re.compile(r"[^\W\d_]")

# Common English function words: a fallback for short or slangy posts the n-gram model
# mislabels. Chosen so that romanised Urdu/Hindi and other Latin-script languages rarely reach
# the share below (they share few of these words).
_FUNCTION_WORDS = """
    a about after all also am an and any are as at be because been before but by can could did
    do does don't down for from get go going got had has have he her here him his how i i'm if
    in into is it it's its just know like me more my no not now of off on one only or our out
    over so some than that that's the their them then there these they this those to too up us
    was we were what when where which who why will with would you your yours should must never
    every they're we're you're won't can't isn't aren't
"""
_ENGLISH_WORDS = frozenset(_FUNCTION_WORDS.split())
ENGLISH_WORD_SHARE = 0.2  # share of Latin words that are English function words
# Another language must be this certain (py3langid's normalised probability) before Latin-script
# text is withheld from the English model: an uncertain call is judged, as English.
OTHER_LANGUAGE_CONFIDENCE = 0.9
MIN_LATIN_LETTERS = 3  # fewer Latin letters than this, in other-script text: nothing to read

# Romanised Urdu/Hindi (Urdu or Hindi written in Latin letters: "kya haal hai sab ka?") is read
# by py3langid as English or as some other Latin-script language with low confidence, so it
# would reach the English model. A lexicon of its high-frequency function and common words
# recognises it instead. `_URDU_STRONG` are words that are not English (nor common in English
# names); `_URDU_WEAK` are Urdu words that are also English words or common in names ("main",
# "ka", "ki", "karen"): they count towards the Urdu share, but a text needs `MIN_URDU_STRONG`
# strong words. Urdu words that are also English function words ("to", "me", "is", "us") count
# for neither language in the rule. Islamic greetings and terms ("assalamu alaikum",
# "inshallah", "eid mubarak") are deliberately absent: English posts use them all the time.
_URDU_STRONG_WORDS = """
    hai hain hoon thi thay raha rahi rahe rahay gaya gayi gai gaye hua hui
    hota hoti hotay hote hoga hogi honge hoge karo karna karta karti karte karein kiya
    kiye diye liya liye jana jao jata jati jate jayega aana aao aaya aayi aaye
    ayi aayega aaoge jaoge karoge dekh dekho dekhna dekhne dekha dekhi chal chalo
    chalein chalen chalna bolo boli bolna kaha kehna kehte kehta suno suna sakta sakti
    sakte chahiye chahie chahta chahti milenge milte rakho samajh samjho lagta lagti
    laga raho rehna rehta
    mein mujhe mujhay mujh mera meri tera teri tere tujhe tum tumhe tumhein tumhara
    tumhari tumhare aap aapka aapki aapke apna apni apne hamara hamari humara humari hamein
    humein hume woh yahan wahan kahan kidhar idhar udhar iska iski iske uska uski uske unka
    unki unke inka kaun kon kisi kya kyun kyu kyon kyunke kyunki kaise kaisay kaisa kaisi kitna
    kitni kitne phir bhi sirf nahi nahin nahe haan jee acha achha accha acchha theek thik
    bohat bahut bohot buhat boht zyada ziada thora thoda thori thodi aur lekin magar sab sabko
    kuch kuchh abhi aaj pehle baad saath sath wala wali wale yaar bhai bhaiyo behen dost
    logon ghar baat baatein cheez kaam raat subah shaam waqt zindagi pyar pyaar khana paani
    pani hamesha shayad bilkul zaroor zarur shukriya meherbani masla pareshan khush haal kab
    nhi pagal matlab jaldi ammi abbu
"""
_URDU_WEAK_WORDS = """
    to me main is us he do par pe ho na ne ka ki ke ko se ye wo hum ap log dil din kal ab bas
    mat han ji tu kam jab tab koi hun mai aye aya hay hoa bola mila mili dena lena diya karen
    yeh tha hu mere
"""
_URDU_STRONG = frozenset(_URDU_STRONG_WORDS.split())
# Words of both lexicons ("to", "me", "is", "us", "he", "do") count for neither language.
_BOTH_LEXICONS = frozenset(_URDU_WEAK_WORDS.split()) & _ENGLISH_WORDS
_URDU_WEAK = frozenset(_URDU_WEAK_WORDS.split()) - _BOTH_LEXICONS
_ENGLISH_NOT_URDU = _ENGLISH_WORDS - _BOTH_LEXICONS
URDU_WORD_SHARE = 0.3  # share of Latin words that are romanised Urdu/Hindi words
MIN_URDU_STRONG = 2  # and at least this many of them not also English (or names)
MIN_URDU_WORDS = 3  # shorter texts: too little to tell


@dataclass(frozen=True)
class Reading:
    """What `read` found: `language` (ISO 639-1, or "und"), `script` (dominant script of the
    letters, or "none"), `supported` (the English model may judge it) and `english_view`."""

    language: str
    script: str
    supported: bool
    english_view: str


_lock = threading.Lock()
_identifier = None


def _langid():
    # py3langid's model takes ~0.7 s to load: only the first call pays it.
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier


def dominant_script(text: str) -> str:
    """The script with the most letters in `text` ("none" if it has no letters)."""
    counts = {name: len(rx.findall(text)) for name, rx in _SCRIPT_RE.items()}
    best = max(counts, key=counts.get)
    if counts[best]:
        return best
    return "other" if _LETTER.search(text) else "none"


def english_view(text: str) -> str:
    """`text` with every non-Latin letter (and its combining marks) replaced by a space.

    Same length as `text`, so offsets carry over unchanged.

    >>> english_view("join us الله أكبر now")
    'join us           now'
    """
    text = _MARKS.sub(" ", text)
    return _NON_LATIN_LETTER.sub(" ", text)


def _is_english(latin: str, guess: tuple[str, float] | None = None) -> bool:
    if _plainly_english(latin):
        return True
    language, confidence = guess or _langid().classify(latin)
    return language in SUPPORTED_LANGUAGES or confidence < OTHER_LANGUAGE_CONFIDENCE


def _plainly_english(latin: str) -> bool:
    # English whatever py3langid says: too few letters to judge ("I h8 ..." and emoji: let
    # the model read the emoji), or enough English function words, unless it is romanised
    # Urdu ("tum to pagal ho": "to" is an English function word too).
    words = [w.lower() for w in _LATIN_WORD.findall(latin)]
    if len("".join(words)) < MIN_LATIN_LETTERS:
        return True
    english = sum(w in _ENGLISH_WORDS for w in words) / len(words) >= ENGLISH_WORD_SHARE
    return english and not _romanised_urdu_words(words)


def _romanised_urdu(latin: str) -> bool:
    """Whether Latin-script text is romanised Urdu/Hindi: at least `URDU_WORD_SHARE` of its
    words are in the lexicon, `MIN_URDU_STRONG` of them are not English words, and fewer than
    `ENGLISH_WORD_SHARE` are English function words (words of both lexicons, such as "to" and
    "is", count for neither).
    Code-mixed posts that are mostly English ("kya scene hai, the match was great and we are
    going again tomorrow") are English.

    >>> _romanised_urdu("yaar mera phone kho gaya, bohat pareshan hoon")
    True
    >>> _romanised_urdu("Assalamu alaikum brothers and sisters, the iftar is at 7 tonight")
    False
    """
    return _romanised_urdu_words([w.lower() for w in _LATIN_WORD.findall(latin)])


def _romanised_urdu_words(words: list[str]) -> bool:
    n = len(words)
    if n < MIN_URDU_WORDS:
        return False
    strong = sum(w in _URDU_STRONG for w in words)
    if strong < MIN_URDU_STRONG:
        return False
    urdu = strong + sum(w in _URDU_WEAK for w in words)
    english = sum(w in _ENGLISH_NOT_URDU for w in words)
    return urdu >= URDU_WORD_SHARE * n and english < ENGLISH_WORD_SHARE * n


def read(text: str) -> Reading:
    """Language, script and what the English model may judge of one (normalised) text."""
    if not isinstance(text, str):
        raise TypeError(f"read expects str, got {type(text).__name__}")
    script = dominant_script(text)
    if script == "none":
        return Reading("und", script, True, text)
    view = english_view(text)
    if view == text and _plainly_english(text):
        # All-Latin and plainly English: `_read_with_langid` returns exactly this whatever
        # py3langid says (a test checks it), so skip loading its model (~0.7 s) and running
        # it (~55 us a text).
        return Reading("en", script, True, view)
    return _read_with_langid(text, script, view)


def _read_with_langid(text: str, script: str, view: str) -> Reading:
    latin_letters = len(_SCRIPT_RE["latin"].findall(view))
    guess = _langid().classify(text)
    language = str(guess[0])
    if script != "latin" and latin_letters < MIN_LATIN_LETTERS:
        return Reading(language, script, False, view)
    if _romanised_urdu(view):
        # Urdu/Hindi in Latin letters: not English, whatever py3langid guessed. A post mostly
        # in another script keeps that script's language.
        return Reading("ur" if script == "latin" else language, script, False, view)
    supported = _is_english(view, guess if view == text else None)
    if supported and script != "latin" and language not in SUPPORTED_LANGUAGES:
        # A mixed post judged on its English part: say which language dominates it.
        return Reading(language, script, True, view)
    if supported:
        language = "en"
    return Reading(language, script, supported, view)


def emoji_to_words(text: str) -> tuple[str, list[tuple[int, int]]]:
    """Spell every emoji in `text` as its English name; return the new text and a span map.

    `spans[j]` is the `(start, end)` in `text` of the character that produced output character
    `j`: a span `[a, b)` of the output maps back to `(spans[a][0], spans[b - 1][1])`. Names keep
    their modifiers ("dark skin tone"): in hateful emoji use they carry the target.

    >>> out, spans = emoji_to_words("I ❤️ you")
    >>> out
    'I  red heart  you'
    >>> spans[out.index("red")], spans[out.index("you")]
    ((2, 4), (5, 6))
    """
    if text.isascii():
        return text, [(i, i + 1) for i in range(len(text))]
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    last = 0
    for match in emoji.emoji_list(text):
        start, end = match["match_start"], match["match_end"]
        parts.append(text[last:start])
        spans.extend((i, i + 1) for i in range(last, start))
        name = emoji.demojize(match["emoji"], delimiters=("", ""))
        name = " " + name.replace("_", " ").replace("-", " ") + " "
        parts.append(name)
        spans.extend([(start, end)] * len(name))
        last = end
    parts.append(text[last:])
    spans.extend((i, i + 1) for i in range(last, len(text)))
    return "".join(parts), spans


def model_view(reading: Reading, emoji_names: bool) -> tuple[str, list[tuple[int, int]] | None]:
    """What the model reads of a supported text: its English view, with emoji spelled out when
    the model was trained that way (`ModelMeta.emoji_names`).

    Returns the view and a span map back to the normalised text (None when the view has the
    normalised text's length, i.e. offsets are unchanged). Training and scoring both call this,
    so a model sees the same kind of input in both.
    """
    if not emoji_names:
        return reading.english_view, None
    return emoji_to_words(reading.english_view)


def map_span(spans: list[tuple[int, int]] | None, a: int, b: int) -> tuple[int, int]:
    """The span `[a, b)` of a model view, in the text the view was made from."""
    if spans is None or b <= a or not spans:
        return a, b
    a, b = max(0, a), min(len(spans), b)
    if b <= a:
        return a, b
    return spans[a][0], spans[b - 1][1]
