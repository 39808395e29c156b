"""Request and response bodies of the HTTP API, each field described for /docs.

Limits live here as constants so the OpenAPI schema shows them and pydantic enforces them
with a 422 that names the field. Strings are rejected when they hold an unpaired surrogate
(they cannot be stored or tokenised) or a NUL character (PostgreSQL cannot store it).

What it leaves out: the body-size limit (a middleware in app.py: it must act before parsing).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from veguard.result import ScoreResult
from veguard.service.bank_schemas import MatchOut
from veguard.service.export import statement
from veguard.service.reasons import REASON_CODES
from veguard.service.store import DECISIONS, STATUSES, AuditEntry, DecisionRecord, QueueItem
from veguard.taxonomy import ACTIONS, BEHAVIOURS, CATEGORIES, FLAGGING, MOVEMENTS

MAX_INPUTS = 256
MAX_TEXT_CHARS = 50_000
CATS = ", ".join(CATEGORIES)


def _clean(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains an unpaired UTF-16 surrogate") from None
    return value


Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS), AfterValidator(_clean)]


def _short(max_length: int, min_length: int = 0):
    return Annotated[
        str, Field(min_length=min_length, max_length=max_length), AfterValidator(_clean)
    ]


# Queue ids are 32-bit integers in the database; a larger one would overflow the driver.
QueueId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Queue item id.")]
NO_NUL = r"^[^\x00]*$"
# A language filter: an ISO 639-1 code as `veguard.language` writes it, or 'und'.
LANGUAGE_PATTERN = r"^[a-z]{2,3}$"


class Strict(BaseModel):
    # Unknown fields are an error that names them, not silently dropped.
    model_config = ConfigDict(extra="forbid")


class ModerationRequest(Strict):
    input: Text | Annotated[list[Text], Field(min_length=1, max_length=MAX_INPUTS)] = Field(
        description=f"One text, or a list of 1 to {MAX_INPUTS} texts, each at most "
                    f"{MAX_TEXT_CHARS} characters.")
    model: _short(200) | None = Field(
        default=None, description="Optional; if given it must be the name of the served model.")


class EvidenceOut(BaseModel):
    start: int = Field(description="Start offset (characters) of the span in the input text.")
    end: int = Field(description="End offset (exclusive) of the span in the input text.")
    text: str = Field(description="The span's text.")
    category: str = Field(description=f"The category it is evidence for: one of {CATS}.")


INFORMATIONAL = tuple(c for c in CATEGORIES if c not in FLAGGING)


class RoutingLabel(BaseModel):
    label: str = Field(description="The most likely label.")
    score: float = Field(description="The routing model's probability of that label, in [0, 1].")


class RoutingOut(BaseModel):
    movement: RoutingLabel = Field(
        description=f"Likely producing movement: one of {', '.join(MOVEMENTS)}.")
    behaviour: RoutingLabel = Field(
        description=f"Behaviour (GIFCT categories): one of {', '.join(BEHAVIOURS)}.")


ROUTING_HELP = ("Routing labels for a text flagged for extremism: the likely producing movement "
                "and the behaviour, with scores. Absent (null on queue items) when extremism is "
                "not flagged or the served model has no routing model.")


class ModerationResult(BaseModel):
    flagged: bool = Field(description="True exactly when some value in `categories` is true "
                                      "(OpenAI's rule).")
    categories: dict[str, bool] = Field(
        description=f"Per category ({CATS}): at or over its review threshold. Informational "
                    f"categories ({', '.join(INFORMATIONAL)}) never flag, so they are always "
                    "false here; see `informational_categories`.")
    informational_categories: dict[str, bool] = Field(
        description=f"Categories reported but never flagged ({', '.join(INFORMATIONAL)}): at "
                    "or over their review threshold.")
    category_scores: dict[str, float] = Field(
        description="Per category: calibrated probability in [0, 1].")
    action: Literal[ACTIONS] = Field(  # type: ignore[valid-type]
        description="'auto' (an automatic-action operating point was reached), 'review' "
                    "(flagged for a human) or 'none'.")
    evidence: EvidenceOut | None = Field(
        description="The span of the input that drove the top score; null when nothing did.")
    language: str = Field(
        default="und", description="ISO 639-1 code of the text's language; 'und' without letters.")
    supported: bool = Field(
        default=True,
        description="False when the text is in a language or script the model cannot read: it "
                    "was not judged (scores 0, never flagged by the model); its action is "
                    "'review' only when the service's unsupported-language setting says so "
                    "(`lexicon` lists the operator terms it matched) or a bank matched.")
    # Absent (not null) without banks, so results keep their shape on servers without them.
    matches: list[MatchOut] | None = Field(
        default=None, exclude_if=lambda v: v is None,
        description="Matches in the banks of known content; present only when the server runs "
                    "with banks (docs/BANKS.md).")
    # Absent unless extremism is flagged (issue #14), so a client can test for the key.
    routing: RoutingOut | None = Field(default=None, exclude_if=lambda v: v is None,
                                       description=ROUTING_HELP)
    lexicon: list[str] | None = Field(
        default=None, exclude_if=lambda v: v is None,
        description="Operator lexicon terms found in a text the model could not read (absent "
                    "when none were looked for or found).")

    @classmethod
    def of(cls, r: ScoreResult, matches: list[dict] | None = None) -> ModerationResult:
        d = r.to_dict()
        cats = {c: bool(d["categories"][c]) and c in FLAGGING for c in CATEGORIES}
        return cls(flagged=any(cats.values()), categories=cats,
                   informational_categories={c: bool(d["categories"][c]) for c in INFORMATIONAL},
                   category_scores=d["scores"], action=d["action"], evidence=d.get("evidence"),
                   language=d["language"], supported=d["supported"], matches=matches,
                   routing=d.get("routing"), lexicon=d.get("extra", {}).get("lexicon"))


class ModerationResponse(BaseModel):
    id: str = Field(description="A unique id for this request, 'modr-' then 32 hex digits.")
    model: str = Field(description="Name of the model that scored the input.")
    results: list[ModerationResult] = Field(description="One result per input text, in order.")


class ClassifyRequest(Strict):
    item_id: _short(200, 1) = Field(
        description="The caller's id for the content, scoped to the calling key: the same id "
                    "and text twice is one item; the same id with changed text is a new version.")
    text: Text = Field(description=f"The text to score, at most {MAX_TEXT_CHARS} characters.")
    source: _short(100, 1) = Field(description="Where the content comes from (platform, feed).")
    author: _short(200) | None = Field(default=None, description="Optional author handle or id.")
    context: _short(2000) | None = Field(
        default=None, description="Optional context for reviewers (thread title, parent post).")
    enqueue: StrictBool = Field(
        default=True, description="Put the item in the review queue if the result qualifies.")


class QueueRef(BaseModel):
    enqueued: bool = Field(description="True when the item is in the review queue (new or not).")
    created: bool = Field(description="True when this request created the queue item.")
    queue_id: int | None = Field(description="The queue item's id, when enqueued.")
    priority: float | None = Field(description="The queue item's priority, when enqueued.")
    version: int | None = Field(default=None,
                                description="The item's version (1, or more after text edits).")
    reason: str = Field(description="Why the item was or was not enqueued.")


class ClassifyResponse(BaseModel):
    item_id: str = Field(description="The item_id from the request.")
    model: str = Field(description="Name of the model that scored the text.")
    result: ModerationResult = Field(description="The scores and decision for the text.")
    queue: QueueRef = Field(description="What happened in the review queue.")


CODES = ", ".join(REASON_CODES)


class DecisionRequest(Strict):
    decision: Literal[DECISIONS] = Field(  # type: ignore[valid-type]
        description="'violating', 'benign' or 'escalate' (to a senior reviewer).")
    categories: dict[str, StrictBool] | None = Field(
        default=None, description=f"Corrections to the predicted categories ({CATS}): "
                                  "category -> true/false. Omitted categories keep the prediction. "
                                  "A benign decision may only set categories false.")
    reason_code: _short(40) | None = Field(
        default=None, description=f"Required for violating and benign (POLICY.md): {CODES}.")
    note: _short(2000) | None = Field(default=None, description="Free-text note for the record.")


class BulkDecisionRequest(DecisionRequest):
    queue_ids: Annotated[list[Annotated[int, Field(ge=1, le=2**31 - 1)]],
                         Field(min_length=1, max_length=200)] = Field(
        description="Items to decide together (e.g. one campaign); each is claimed, decided and "
                    "audited on its own.")


class AppealRequest(Strict):
    reason: _short(2000, 1) = Field(description="Why the decision is appealed (for the reviewer).")


class ClaimRequest(Strict):
    category: Literal[CATEGORIES] | None = Field(  # type: ignore[valid-type]
        default=None, description="Only claim items flagged in this category.")
    source: _short(100) | None = Field(
        default=None, description="Only claim items from this source."
    )
    language: Annotated[str, Field(pattern=LANGUAGE_PATTERN)] | None = Field(
        default=None, description="Only claim items in this language (ISO 639-1, e.g. 'ps').")
    queue: Literal["review", "escalation"] = Field(
        default="review", description="'review' (new items and appeals) or 'escalation' "
                                      "(escalated items; senior reviewers only).")


class StatementOfReasons(BaseModel):
    decision: str | None = Field(description="The final decision (violating / benign).")
    reason_code: str | None = Field(description="Its reason code (POLICY.md).")
    reason: str | None = Field(description="What the reason code means.")
    labels: dict[str, bool] | None = Field(description="The categories the decision found.")
    decided_by: str | None = Field(description="Reviewer who made the final decision.")
    decided_at: float | None = Field(description="When, Unix seconds.")
    appealed: bool = Field(description="True when the final decision answered an appeal.")
    model: str = Field(description="Model that scored the item.")
    model_version: str = Field(description="Hash of the model's weights ('' if unknown).")
    thresholds: dict | None = Field(description="Operating points used: review/auto per category.")
    policy_version: str = Field(description="POLICY.md version the model and reviewer applied.")


class QueueItemOut(BaseModel):
    id: int = Field(description="Queue item id.")
    item_id: str = Field(description="The caller's id for the content.")
    text: str = Field(description="The content (render it escaped).")
    source: str = Field(description="Where the content comes from.")
    author: str | None = Field(description="Author handle or id, if given.")
    context: str | None = Field(description="Context for reviewers, if given.")
    model: str = Field(description="Model that scored it.")
    scores: dict[str, float] = Field(description="Calibrated scores per category.")
    categories: dict[str, bool] = Field(description="Predicted categories.")
    action: str = Field(description="The model's action: auto / review / none.")
    evidence: EvidenceOut | None = Field(description="The span that drove the top score.")
    language: str = Field(description="ISO 639-1 code of the text's language ('und': none).")
    routing: RoutingOut | None = Field(default=None, description=ROUTING_HELP)
    priority: float = Field(description="Severity x confidence, +1 for imminent threats.")
    client: str = Field(description="Key name of the client that sent it (item ids are "
                                    "scoped per client).")
    version: int = Field(description="1, or higher for an edited text re-sent by the client.")
    previous_id: int | None = Field(description="Queue id of the previous version, if any.")
    model_version: str = Field(description="Hash of the weights of the model that scored it.")
    thresholds: dict | None = Field(description="Operating points used when it was scored.")
    policy_version: str = Field(description="Policy version of that model.")
    status: str = Field(description=f"{', '.join(STATUSES)} (claimed: lease live).")
    lane: str = Field(description="review, escalation (senior reviewers) or appeal.")
    claimed_by: str | None = Field(description="Reviewer holding the lease, if claimed.")
    lease_until: float | None = Field(description="Lease expiry, Unix seconds.")
    created_at: float = Field(description="Enqueue time, Unix seconds.")
    decision: str | None = Field(description="violating / benign, once decided.")
    decision_categories: dict[str, bool] | None = Field(description="Category corrections.")
    reason_code: str | None = Field(description="The decision's reason code.")
    note: str | None = Field(description="Reviewer's note.")
    decided_by: str | None = Field(description="Reviewer who decided.")
    decided_at: float | None = Field(description="Decision time, Unix seconds.")
    appeal_reason: str | None = Field(description="The appeal's reason, if appealed.")
    qa_status: str | None = Field(description="QA re-review: pending, claimed, done or null.")
    statement: StatementOfReasons | None = Field(
        description="Statement of reasons for the final decision (null until decided).")

    @classmethod
    def of(cls, item: QueueItem, now: float, *, blind: bool = False) -> QueueItemOut:
        """`blind` hides the first decision (QA re-reviewers must not see it)."""
        d = {k: v for k, v in vars(item).items() if k not in ("qa_claimed_by", "qa_lease_until")}
        d["status"] = item.effective_status(now)
        if d["status"] in ("pending", "escalated"):
            d["claimed_by"] = d["lease_until"] = None
        d["statement"] = statement(item) if item.status == "decided" else None
        if blind:
            for k in ("decision", "decision_categories", "reason_code", "note", "decided_by",
                      "decided_at", "statement"):
                d[k] = None
        return cls(**d)


class AuditOut(BaseModel):
    id: int = Field(description="Audit entry id (increasing).")
    at: float = Field(description="When, Unix seconds.")
    actor: str = Field(description="Key name of who did it.")
    action: str = Field(description="enqueue, claim, release, decide, export or key_create.")
    queue_id: int | None = Field(description="The queue item, if any.")
    detail: dict = Field(description="Action-specific detail.")

    @classmethod
    def of(cls, a: AuditEntry) -> AuditOut:
        return cls(**vars(a))


class DecisionOut(BaseModel):
    kind: str = Field(description="Lane it was made in (review / escalation / appeal) or qa.")
    reviewer: str = Field(description="Who decided.")
    decision: str = Field(description="violating / benign / escalate.")
    categories: dict[str, bool] | None = Field(description="Category corrections.")
    reason_code: str | None = Field(description="Reason code.")
    note: str | None = Field(description="Note.")
    at: float = Field(description="When, Unix seconds.")
    undone: bool = Field(description="True when its reviewer undid it.")

    @classmethod
    def of(cls, d: DecisionRecord) -> DecisionOut:
        return cls(**{k: v for k, v in vars(d).items() if k not in ("id", "queue_id")})


class QueueItemDetail(BaseModel):
    item: QueueItemOut = Field(description="The queue item.")
    decisions: list[DecisionOut] = Field(description="Every decision on it, oldest first "
                                                     "(appeals and QA re-reviews included).")
    audit: list[AuditOut] = Field(description="The item's audit trail, oldest first.")


class BulkResult(BaseModel):
    queue_id: int = Field(description="The item.")
    ok: bool = Field(description="True when it was decided.")
    error: str | None = Field(description="Why not, when not.")


class BulkResponse(BaseModel):
    results: list[BulkResult] = Field(description="One per queue id, in request order.")


class QueueList(BaseModel):
    items: list[QueueItemOut] = Field(description="Items, highest priority first.")
    depth: dict[str, int] = Field(description="Number of items per status.")


class KeyCreateRequest(Strict):
    role: Literal["client", "reviewer", "senior", "admin"] = Field(
        description="The new key's role.")
    name: _short(200, 1) = Field(description="A unique name; it identifies the reviewer in audits.")
    expires_days: float | None = Field(default=None, gt=0, le=3650,
                                       description="Days until the key expires (default: never).")


class KeyCreateResponse(BaseModel):
    name: str = Field(description="The key's name.")
    role: str = Field(description="The key's role.")
    token: str = Field(description="The key itself. Shown only this once; store it safely.")


class ErrorBody(BaseModel):
    type: str = Field(description="Machine-readable error kind.")
    message: str = Field(description="What was wrong.")
    fields: list[dict] = Field(default_factory=list, description="Per-field problems, if any.")


class ErrorResponse(BaseModel):
    error: ErrorBody = Field(description="The error.")
