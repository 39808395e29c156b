"""Render results.json as a report: pure functions of the results dict, no I/O, no model.

`document(results)` lays the report out once as a list of neutral blocks (headings,
paragraphs, tables, lists, plot slots); `render_markdown` and `html_report.render_html` only
turn blocks into syntax, so the two reports cannot drift apart. Every table shows the model
beside the baseline on the same cases. `render_headline` is the short table the model card
includes.

Texts from suites are hostile data: the Markdown renderer escapes HTML and Markdown syntax
in every cell, so a case like `<script>` or `[x](javascript:...)` shows as text.
What it leaves out: plots (plots.py) and HTML (html_report.py).
"""

from __future__ import annotations

import html

from veguard.evaluation.kinds import KINDS
from veguard.taxonomy import CATEGORIES, ROUTING

Block = tuple  # ("h1"|"h2"|"h3"|"p"|"alert", text) | ("table", headers, rows) | ("list", items)
#              | ("plot", kind, suite_name)

DASH = "–"


def fmt(x, places: int = 3) -> str:
    """A number for a table cell; None (undefined metric) shows as a dash."""
    if x is None:
        return DASH
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    return f"{x:.{places}f}"


def pct(x) -> str:
    return DASH if x is None else f"{100 * x:.1f}%"


def _roles(results: dict) -> list[str]:
    return [r for r in ("model", "previous", "baseline") if r in results["models"]]


def _names(results: dict) -> dict[str, str]:
    return {r: results["models"][r]["name"] for r in _roles(results)}


def _cols(results: dict, metric: str) -> list[str]:
    """Header cells `metric (model name)` for each role, model first."""
    return [f"{metric} ({n})" for n in _names(results).values()]


def ordered(keys) -> list[str]:
    """Categories in taxonomy order (results.json sorts its keys), any others after, sorted."""
    keys = list(keys)
    return [c for c in CATEGORIES if c in keys] + sorted(k for k in keys if k not in CATEGORIES)


def _get(d: dict | None, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


# --- one section and one headline per suite kind (named in kinds.py) -----------------------


def corpus_section(results: dict, name: str, s: dict) -> list[Block]:
    roles, out = _roles(results), []
    out.append(("p", (f"{s['n_rows']} rows from {len(s['sources'])} source(s): "
                     f"{', '.join(s['sources'])}. Unknown labels are excluded per category.")))
    out.append(("plot", "pr_curves", name))
    first = s["by_model"][roles[0]]
    cats = ordered(first["all"])
    for op in ("review", "auto"):
        if not any(op in first["all"][c] for c in cats):
            continue
        headers = ["source", "category", "n", "positives"]
        for metric in ("precision", "recall", "f1"):
            headers += _cols(results, metric)
        headers += _cols(results, "AUPRC")
        rows = []
        for src in ["all", *sorted(first["by_source"])]:
            for c in cats:
                path = ("all", c) if src == "all" else ("by_source", src, c)
                base = _get(first, *path)
                row = [src, c, fmt(base["n"]), fmt(base["positives"])]
                for metric in ("precision", "recall", "f1"):
                    row += [fmt(_get(s["by_model"][r], *path, op, metric)) for r in roles]
                row += [fmt(_get(s["by_model"][r], *path, "auprc")) for r in roles]
                rows.append(row)
        out.append(("h3", f"At the {op} operating point"))
        out.append(("table", headers, rows))
    return out


def functional_section(results: dict, name: str, s: dict) -> list[Block]:
    roles, names, out = _roles(results), _names(results), []
    bm = s["by_model"]
    out.append(("p", (f"{s['n_cases']} cases; prediction = flagged. A slice of "
                     f"'{s['failure_slice']}' below {pct(s['min_accuracy'])} is a named failure.")))
    ov = [bm[r]["overall"] for r in roles]
    out.append(("table", ["", *_cols(results, "overall")],
                [["accuracy", *[pct(o["accuracy"]) for o in ov]],
                 ["AUROC (flag score)", *[fmt(o.get("auroc")) for o in ov]],
                 ["AUPRC (flag score)", *[fmt(o.get("auprc")) for o in ov]],
                 ["false-positive rate", *[pct(o.get("fpr")) for o in ov]],
                 ["recall", *[pct(o.get("recall")) for o in ov]],
                 ["not judged (language the model cannot read)",
                  *[fmt(o.get("not_judged")) for o in ov]]]))
    for r in roles:
        fails = bm[r]["failures"]
        text = ", ".join(fails) if fails else "none"
        out.append(("alert" if fails else "p", f"Failures ({names[r]}): {text}"))
    out.append(("plot", "functional_bars", name))
    slices = list(bm[roles[0]]["by"])
    for sl in slices:
        keys = sorted(set().union(*(bm[r]["by"][sl] for r in roles)))
        rows = []
        for k in keys:
            row = [k, fmt(_get(bm[roles[0]], "by", sl, k, "n"))]
            row += [pct(_get(bm[r], "by", sl, k, "accuracy")) for r in roles]
            if sl == s["failure_slice"]:
                row.append("FAIL" if k in bm[roles[0]]["failures"] else "ok")
            rows.append(row)
        headers = [sl, "n", *_cols(results, "accuracy")]
        if sl == s["failure_slice"]:
            headers.append(f"status ({names[roles[0]]})")
        out.append(("h3", f"Accuracy by {sl}"))
        out.append(("table", headers, rows))
    errors = bm[roles[0]]["errors"]
    if errors:
        out.append(("h3", f"Examples of errors ({names[roles[0]]})"))
        out.append(("table", [s["failure_slice"], "case", "gold", "text"],
                    [[k, e["id"], "flag" if e["label"] else "no flag", e["text"]]
                     for k in sorted(errors) for e in errors[k]]))
    return out


def robustness_section(results: dict, name: str, s: dict) -> list[Block]:
    roles, out = _roles(results), []
    out.append(("p", (f"{s['n_cases']} violating cases of suite '{s['source']}', perturbed with "
                     f"seed {s['seed']}. Accuracy = share still flagged, on the cases each "
                     "perturbation changed; drop = clean minus perturbed.")))
    perts = s.get("perturbations") or sorted(s["by_model"][roles[0]]["perturbations"])
    headers = ["perturbation", "changed"]
    for metric in ("clean", "perturbed", "drop"):
        headers += _cols(results, metric)
    rows = []
    for p in perts:
        row = [p, fmt(s["by_model"][roles[0]]["perturbations"][p]["n_changed"])]
        for key in ("clean_accuracy", "perturbed_accuracy", "drop"):
            row += [pct(s["by_model"][r]["perturbations"][p][key]) for r in roles]
        rows.append(row)
    out.append(("table", headers, rows))
    examples = [[p, e["id"], e["text"]] for p in perts for e in s["examples"].get(p, [])]
    if examples:
        out.append(("h3", "Example perturbed texts"))
        out.append(("table", ["perturbation", "case", "text"], examples))
    return out


def _bias_table(results: dict, blocks: dict) -> Block:
    roles = _roles(results)
    terms = sorted(set().union(*(blocks[r]["by_term"] for r in roles)))
    headers = ["term", "group", "n", "negatives"]
    for metric in ("FPR", "subgroup AUC", "BPSN AUC", "BNSP AUC"):
        headers += _cols(results, metric)
    rows = []
    for t in terms:
        first = blocks[roles[0]]["by_term"].get(t, {})
        row = [t, first.get("group", ""), fmt(first.get("n")), fmt(first.get("n_negative"))]
        for key, f in (("fpr", pct), ("subgroup_auc", fmt), ("bpsn_auc", fmt), ("bnsp_auc", fmt)):
            row += [f(_get(blocks[r], "by_term", t, key)) for r in roles]
        rows.append(row)
    return ("table", headers, rows)


def identity_section(results: dict, name: str, s: dict) -> list[Block]:
    roles, out = _roles(results), []
    bm = s["by_model"]
    out.append(("p", (f"{s['n_cases']} template cases ({len(s['terms'])} terms). FPR = share of "
                     "label-0 cases flagged; AUCs (Borkan et al. 2019) use the highest flagging "
                     "score; background = all other terms' cases.")))
    out.append(("plot", "identity_fpr", name))
    out.append(("h3", "Templates"))
    out.append(("table", ["", *_cols(results, "overall FPR")],
                [["all terms", *[pct(bm[r]["templates"]["overall_fpr"]) for r in roles]]]))
    out.append(_bias_table(results, {r: bm[r]["templates"] for r in roles}))
    groups = sorted(bm[roles[0]]["templates"]["by_group"])
    out.append(("table", ["group", "negatives", *_cols(results, "FPR")],
                [[g, fmt(bm[roles[0]]["templates"]["by_group"][g]["n_negative"]),
                  *[pct(bm[r]["templates"]["by_group"][g]["fpr"]) for r in roles]]
                 for g in groups]))
    out.append(("h3", "Corpus test split: texts mentioning each term"))
    corpus = bm[roles[0]]["corpus"]
    if "skipped" in corpus:
        out.append(("p", f"Skipped: {corpus['skipped']}"))
    else:
        out.append(("p", (f"{corpus['n']} labelled rows; a term counts when it appears as a "
                         "whole word (any case). Labels: any flagging category positive.")))
        out.append(_bias_table(results, {r: bm[r]["corpus"] for r in roles}))
    return out


def calibration_section(results: dict, name: str, s: dict) -> list[Block]:
    roles, out = _roles(results), []
    first = s["by_model"][roles[0]]
    out.append(("p", (f"{s['n_rows']} corpus rows, {s['bins']} equal-width bins; unknown "
                     "labels excluded per category.")))
    out.append(("table", ["category", "n", *_cols(results, "ECE")],
                [[c, fmt(first[c]["n"]), *[fmt(s["by_model"][r][c].get("ece")) for r in roles]]
                 for c in ordered(first)]))
    out.append(("plot", "reliability", name))
    return out


def routing_section(results: dict, name: str, s: dict) -> list[Block]:
    roles, names = _roles(results), _names(results)
    bm = s["by_model"]
    live = [r for r in roles if bm[r].get("routing")]
    out: list[Block] = [("p", (f"{s['n_cases']} extremist cases. The routing model labels every "
                               "case; real results carry its labels only where the classifier "
                               "flags extremism (share below)."))]
    absent = [names[r] for r in roles if r not in live]
    if absent:
        out.append(("p", f"No routing model: {', '.join(absent)}."))
    if not live:
        return out
    out.append(("table", ["", *[names[r] for r in live]],
                [["flagged for extremism", *[pct(bm[r]["flagged_extremism"]) for r in live]],
                 *[[f"{dim} accuracy", *[pct(bm[r][dim]["accuracy"]) for r in live]]
                   for dim in ROUTING],
                 *[[f"{dim} macro F1", *[fmt(bm[r][dim]["macro_f1"]) for r in live]]
                   for dim in ROUTING]]))
    for dim, labels in ROUTING.items():
        headers = [dim, "gold"]
        for metric in ("precision", "recall", "f1"):
            headers += [f"{metric} ({names[r]})" for r in live]
        rows = []
        for lab in labels:
            per = [_get(bm[r], dim, "labels", lab) for r in live]
            if not any(per):
                continue
            first = next(p for p in per if p)
            row = [lab, fmt(first["tp"] + first["fn"])]
            for metric in ("precision", "recall", "f1"):
                row += [fmt(_get(p, metric)) for p in per]
            rows.append(row)
        out.append(("h3", f"{dim.capitalize()}: per label"))
        out.append(("table", headers, rows))
        errors = bm[live[0]][dim]["errors"]
        if errors:
            out.append(("h3", f"{dim.capitalize()}: example errors ({names[live[0]]})"))
            out.append(("table", ["case", "gold", "predicted", "text"],
                        [[e["id"], e["gold"], e["predicted"], e["text"]] for e in errors]))
    return out


def document(results: dict) -> list[Block]:
    """The report as blocks, in suite order."""
    names = _names(results)
    out: list[Block] = [("h1", f"veguard evaluation: {names['model']}")]
    models = []
    for r in _roles(results):
        m = results["models"][r]
        models.append(f"{r}: {m['name']}" + (f" ({m['path']})" if m.get("path") else ""))
    if "baseline" not in names:
        models.append("baseline: none")
    out.append(("list", models))
    for name in results["suite_order"]:
        s = results["suites"][name]
        out.append(("h2", f"{name} ({s['kind']})"))
        out.append(("p", s["description"]))
        if "skipped" in s:
            out.append(("alert", f"Skipped: {s['skipped']}"))
            continue
        out += KINDS[s["kind"]].report_section(results, name, s)
    return out


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]|#~"})


def md_escape(text: str) -> str:
    """Cell/paragraph text safe in Markdown: HTML escaped, Markdown syntax backslashed,
    newlines flattened (a newline would end a table row)."""
    # Backslash first, entities second: escaping `#` after html.escape would break `&#...;`.
    return html.escape(" ".join(str(text).split()).translate(_MD_SPECIAL), quote=False)


def _md_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(md_escape(h) for h in headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(results: dict) -> str:
    """report.md. Plots are in report.html only; their slots are skipped here."""
    parts = []
    for block in document(results):
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            parts.append("#" * int(kind[1]) + " " + md_escape(block[1]))
        elif kind == "p":
            parts.append(md_escape(block[1]))
        elif kind == "alert":
            parts.append("**" + md_escape(block[1]) + "**")
        elif kind == "list":
            parts.append("\n".join("- " + md_escape(i) for i in block[1]))
        elif kind == "table":
            parts.append(_md_table(block[1], block[2]))
    return "\n\n".join(parts) + "\n"


def corpus_headline(results: dict, name: str, s: dict) -> list[list[str]]:
    roles, rows = _roles(results), []
    cats = ordered(s["by_model"][roles[0]]["all"])
    for c in cats:
        rows.append([f"corpus test F1 at review: {c}",
                     *[fmt(_get(s["by_model"][r], "all", c, "review", "f1")) for r in roles]])
    for c in cats:
        rows.append([f"corpus test AUPRC: {c}",
                     *[fmt(_get(s["by_model"][r], "all", c, "auprc")) for r in roles]])
    return rows


def functional_headline(results: dict, name: str, s: dict) -> list[list[str]]:
    # Named by suite: the development suite sits beside the functional one (issue #11).
    roles = _roles(results)
    ov = [s["by_model"][r]["overall"] for r in roles]
    return [[f"{name} accuracy", *[pct(o["accuracy"]) for o in ov]],
            [f"{name} AUROC / AUPRC",
             *[f"{fmt(o.get('auroc'))} / {fmt(o.get('auprc'))}" for o in ov]],
            [f"{name} false-positive rate", *[pct(o.get("fpr")) for o in ov]],
            [f"{name}: functionalities below {pct(s['min_accuracy'])}",
             *[str(len(s["by_model"][r]["failures"])) for r in roles]]]


def robustness_headline(results: dict, name: str, s: dict) -> list[list[str]]:
    cells = []
    for r in _roles(results):
        drops = [(v["drop"], p) for p, v in s["by_model"][r]["perturbations"].items()
                 if v["drop"] is not None]
        cells.append(f"{pct(max(drops)[0])} ({max(drops)[1]})" if drops else DASH)
    return [["worst robustness drop", *cells]]


def identity_headline(results: dict, name: str, s: dict) -> list[list[str]]:
    cells = []
    for r in _roles(results):
        fprs = [(v["fpr"], t) for t, v in s["by_model"][r]["templates"]["by_term"].items()
                if v.get("fpr") is not None]
        cells.append(f"{pct(max(fprs)[0])} ({max(fprs)[1]})" if fprs else DASH)
    return [["identity templates: highest FPR (term)", *cells]]


def calibration_headline(results: dict, name: str, s: dict) -> list[list[str]]:
    cells = []
    for r in _roles(results):
        eces = [v["ece"] for v in s["by_model"][r].values() if v.get("ece") is not None]
        cells.append(fmt(sum(eces) / len(eces)) if eces else DASH)
    return [["mean ECE over categories", *cells]]


def routing_headline(results: dict, name: str, s: dict) -> list[list[str]]:
    bm = s["by_model"]
    return [[f"routing {dim} macro F1",
             *[fmt(bm[r][dim]["macro_f1"]) if bm[r].get("routing") else DASH
               for r in _roles(results)]] for dim in ROUTING]


def headline_rows(results: dict) -> list[list[str]]:
    """[label, model value, baseline value?] rows for the model card's summary table.

    The headline of every suite that ran, in report order (kind, then name). Not only the
    first of each kind: with two functional suites ("development" sorts before "functional")
    that would silently swap which one the model card shows.
    """
    rows = []
    for name in results["suite_order"]:
        s = results["suites"][name]
        if "skipped" not in s:
            rows += KINDS[s["kind"]].headline_rows(results, name, s)
    return rows


def render_headline(results: dict) -> str:
    """headline.md: one small table, model beside baseline."""
    headers = ["metric", *_names(results).values()]
    return _md_table(headers, headline_rows(results)) + "\n"
