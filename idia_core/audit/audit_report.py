"""The audit's ``report.html`` and its PNGs, from the merged results table alone (so every shard,
a re-run and ``audit-merge`` write the same report for the same rows):

- the people × models matrix (verdict per cell, correct templates), as a picture (the first
  ``MATRIX_PNG_PEOPLE`` people) and as a table (everyone, up to ``MATRIX_TABLE_PEOPLE``);
- per model: people checked, the paper's rule's member rate, the rate that stays member with the
  validity controls, verdict counts, refused and failed rows (and TPR/FPR where labels say who is
  a member);
- TPR by occurrence bin as in the paper (``metrics.occurrence_table``), per model, when
  ``labels.csv`` gave occurrence counts (members: the ``member`` label, else occurrences > 0);
- every refused or failed row with its reason.

Every value that came from a user (names, folders, specs, reasons) is escaped (``html``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..attack.verdict import Verdict
from ..files import atomic_write
from ..provenance import package_versions
from . import charts
from .html import escape, html_table, img_tag, kv_table, page
from .metrics import occurrence_table

MATRIX_PNG_PEOPLE = 60
MATRIX_TABLE_PEOPLE = 5000


def _cell(row) -> tuple[str, int | None]:
    if row["status"] != "done":
        return row["status"], None
    return row["verdict"], int(row["correct_templates"])


def model_summary(table: pd.DataFrame, models=None) -> list[dict]:
    """One dict per model (in the order of ``models``, else of the table): counts and rates of its rows."""
    out = []
    for model in models or list(dict.fromkeys(table["model"])):
        rows = table[table["model"] == model]
        done = rows[rows["status"] == "done"]
        n = len(done)
        member = done["member"].astype(bool)
        labelled = done[done["label_member"].notna()]
        lab = labelled["label_member"].astype(bool)
        called = labelled["member"].astype(bool)
        verdicts = done["verdict"].value_counts()
        out.append({
            "model": model, "fingerprint": next((f for f in rows["fingerprint"] if f), ""), "checked": n,
            "member_rule": int(member.sum()), "member_rate": float(member.mean()) if n else None,
            "member_with_controls": int(verdicts.get(Verdict.MEMBER, 0)),
            "controlled_rate": float(verdicts.get(Verdict.MEMBER, 0) / n) if n else None,
            "inconclusive": int(verdicts.get(Verdict.INCONCLUSIVE, 0)),
            "unchecked": int(verdicts.get(Verdict.MEMBER_UNCHECKED, 0)),
            "invalid": int((rows["status"] == "invalid").sum()), "failed": int((rows["status"] == "failed").sum()),
            "tpr": float(called[lab].mean()) if lab.any() else None,
            "fpr": float(called[~lab].mean()) if (~lab).any() else None,
        })
    return out


def occurrence_rows(table: pd.DataFrame) -> dict[str, list[dict]]:
    """Per model, TPR by occurrence bin over the people with an occurrence count."""
    out = {}
    done = table[(table["status"] == "done") & table["occurrences"].notna()]
    for model, rows in done.groupby("model", sort=False):
        occ = rows["occurrences"].to_numpy(float)
        labels = np.where(rows["label_member"].isna(), occ > 0, rows["label_member"].fillna(False).astype(bool))
        tau = int(rows["tau"].iloc[0])
        found = occurrence_table(rows["correct_templates"].to_numpy(int)[None], labels.astype(bool), occ, tau)
        if found:
            out[model] = found
    return out


def write_audit_report(out_dir, table: pd.DataFrame, settings: dict, notes=(), models=()) -> Path:
    """``report.html`` (and ``matrix.png``, ``member_rates.png``, ``tpr_by_occurrence_<i>.png``);
    ``models`` in the order the audit named them (others follow in the table's order)."""
    out = Path(out_dir)
    models = list(dict.fromkeys([m for m in models if m in set(table["model"])] + list(table["model"])))
    people = sorted(dict.fromkeys(table["person"])) if not table.empty else []
    parts = [f"<h1>IDIA audit: {_count(len(people), 'person', 'people')} × {_count(len(models), 'model')}</h1>"]
    if table.empty:
        parts.append("<p>No rows yet.</p>")
        return atomic_write(out / "report.html", page("IDIA audit", "\n".join(parts)))
    summary = model_summary(table, models)
    parts.append(_summary_section(out, summary))
    parts.append(_matrix_section(out, table, people, models))
    parts.append(_occurrence_section(out, table, models))
    bad = table[table["status"] != "done"]
    if not bad.empty:
        parts.append("<h2>Rows without a verdict</h2><p class='note'>invalid: the check refused the input (it would "
                     "again); failed: the model or its worker failed — a re-run retries these.</p>"
                     + html_table(bad[["person", "model", "status", "error_code", "error"]].to_dict("records")))
    parts.append("<h2>Settings</h2>" + kv_table([(k, UNSET.get(k, "–") if v is None else v) for k, v in settings.items()]
                                                + [(f"version: {k}", v) for k, v in package_versions().items()]))
    for note in notes:
        parts.append(f"<p class='note'>{escape(note)}</p>")
    parts.append("<p class='note'>Every row, with the controls' counts, the photo set's SHA-256 and the model's "
                 "fingerprint: results.parquet. Photos are never stored, only their hashes.</p>")
    return atomic_write(out / "report.html", page("IDIA audit", "\n".join(parts)))


# what a setting left unset means (as in ``check``)
UNSET = {"photos": "all of each person's photos (at most 50)", "reference": "check's default reference people",
         "control_m": "check's default (50 look-alikes)",
         "precision": "IDIA_PRECISION if set, else float16 on CUDA and float32 elsewhere"}


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _summary_section(out: Path, summary: list[dict]) -> str:
    fig = charts.member_rates_figure([s["model"] for s in summary], [s["member_rate"] for s in summary],
                                     [s["controlled_rate"] for s in summary], [s["checked"] for s in summary])
    charts.save_figure(fig, out / "member_rates.png")
    cols = ["model", "fingerprint", "checked", "member_rule", "member_rate", "member_with_controls", "controlled_rate",
            "inconclusive", "unchecked", "invalid", "failed", "tpr", "fpr"]
    return ("<h2>Per model</h2><p class='note'>member_rule: the paper's rule (≥ tau templates pick the name); "
            "member_with_controls: the rule holds and the photos beat both validity controls; unchecked: the rule "
            "holds but no reference set ran the controls. tpr/fpr where labels.csv says who is a member.</p>"
            + html_table(summary, cols) + img_tag((out / "member_rates.png").read_bytes(), "member rate per model"))


def _matrix_section(out: Path, table: pd.DataFrame, people: list[str], models: list[str]) -> str:
    cells = {(r["person"], r["model"]): _cell(r) for r in table.to_dict("records")}
    shown = people[:MATRIX_PNG_PEOPLE]
    note = f"the first {len(shown)} of {len(people)} people; all in the table below" if len(shown) < len(people) else ""
    charts.save_figure(charts.audit_matrix_figure(shown, models, cells, note), out / "matrix.png")
    head = "".join(f"<th>{escape(m)}</th>" for m in models)
    body = []
    for person in people[:MATRIX_TABLE_PEOPLE]:
        tds = []
        for model in models:
            verdict, count = cells.get((person, model), ("", None))
            colour = charts.VERDICT_COLOURS.get(verdict, "#ffffff")
            text = charts.VERDICT_LABELS.get(verdict, "–") + ("" if count is None else f" · {count}")
            tds.append(f"<td style='background:{colour}'>{escape(text)}</td>")
        body.append(f"<tr><th>{escape(person)}</th>{''.join(tds)}</tr>")
    more = (f"<p class='note'>{len(people) - MATRIX_TABLE_PEOPLE} more people in results.parquet.</p>"
            if len(people) > MATRIX_TABLE_PEOPLE else "")
    return ("<h2>People × models</h2>" + img_tag((out / "matrix.png").read_bytes(), "people by models matrix")
            + f"<table><thead><tr><th>person</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>" + more)


def _occurrence_section(out: Path, table: pd.DataFrame, models: list[str]) -> str:
    by_model = occurrence_rows(table)
    if not by_model:
        return ""
    parts = ["<h2>TPR by training occurrences</h2><p class='note'>As in the paper: the share of members the rule "
             "calls member, per bin of caption counts (labels.csv's occurrences), with Wilson 95% intervals.</p>"]
    for i, model in enumerate(m for m in models if m in by_model):
        rows = by_model[model]
        name = f"tpr_by_occurrence_{i}.png"
        fig = charts.tpr_by_occurrence_figure({k: [r[k] for r in rows] for k in rows[0]})
        fig.suptitle(model, fontsize=9)
        charts.save_figure(fig, out / name)
        parts.append(f"<h3>{escape(model)}</h3>" + html_table(rows) + img_tag((out / name).read_bytes(), f"TPR by occurrences, {model}"))
    return "\n".join(parts)
