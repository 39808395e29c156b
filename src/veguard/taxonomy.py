"""The label set: the ONLY place veguard's categories, contexts and splits are named.

Everything else (corpus specs, training heads, thresholds, CLI output, the HTTP API,
the review queue) imports these names instead of spelling them out.
See POLICY.md for what each category means and what it deliberately excludes.
"""

from __future__ import annotations

POLICY_VERSION = "1.0"

# Order matters: it is the order of the model's output logits.
CATEGORIES: tuple[str, ...] = ("extremism", "violence", "hate", "offensive")

# Categories that can set `flagged`. `offensive` is reported, never flagged on its own.
FLAGGING: tuple[str, ...] = ("extremism", "violence", "hate")

# Severity used by the review queue's priority (higher = reviewed sooner).
SEVERITY: dict[str, float] = {"extremism": 1.0, "violence": 1.0, "hate": 0.7, "offensive": 0.2}

# Label values in the corpus. UNKNOWN means "the source says nothing about this label";
# training masks it out of the loss instead of treating it as a negative.
POSITIVE, NEGATIVE, UNKNOWN = 1, 0, -1

# Where a text comes from / what kind of speech it is. Used for slicing and sampling.
CONTEXTS: tuple[str, ...] = (
    "social",            # ordinary social-media posts
    "extremist_forum",   # posts from extremist communities (Stormfront, pro-IS accounts)
    "news",              # newswire and reporting
    "religious",         # scripture and religious practice
    "counter_speech",    # replies that rebut hate or extremism
    "analysis",          # academic / policy analysis
    "synthetic",         # written by the veguard team (policy-grounded examples, contrasts)
    "review",            # human reviewer decisions exported from the queue
)

SPLITS: tuple[str, ...] = ("train", "validation", "test")

# Actions a result can carry, from the two operating points in thresholds.json.
ACTIONS: tuple[str, ...] = ("none", "review", "auto")

# Labels of entries in banks of known content (veguard.banks). The producing entity and the
# behaviour, following GIFCT's hash-sharing categories. Both are optional on an entry.
ENTITIES: tuple[str, ...] = (
    "islamic_state", "is_khorasan", "al_qaeda", "ttp", "al_shabaab", "white_supremacist",
)
# Routing labels the model gives content flagged `extremism` (issue #14, `veguard.routing`):
# the bank entities, so a bank entry and a prediction speak the same names, plus
# `accelerationist`, `other` (a named movement outside this list: ISWAP, incel, eco-fascist...)
# and `unknown` (no producing movement can be told from the text).
MOVEMENTS: tuple[str, ...] = ENTITIES + ("accelerationist", "other", "unknown")
# GIFCT's behavioural categories for terrorist content (banks and routing alike).
BEHAVIOURS: tuple[str, ...] = (
    "glorification", "recruitment_radicalisation_instruction", "imminent_credible_threat",
    "graphic_violence", "propaganda_branded", "attacker_manifesto",
)
BANK_KINDS: tuple[str, ...] = ("violating", "benign")
# The two routing dimensions, in the order results report them.
ROUTING: dict[str, tuple[str, ...]] = {"movement": MOVEMENTS, "behaviour": BEHAVIOURS}
