"""Pricing as code: a plan as a `tally.plan/1` JSON document and back
(docs/PLAN_SCHEMA.md). The views here and the `export_plan` / `import_plan`
commands share these helpers, so a file is read, checked and stored the same
way from the browser and from a shell: parsed with exact decimals, checked by
pricing.schema.read_plan against the meters in the database, stored by
pricing.services.plan_import all or nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db import DataError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from billing_site.htmx import page_or_partial, redirect_after_write
from meters.models import Meter
from meters.records import DocumentError, decode, loads
from pricing.models import Plan, TaxRate
from pricing.schema import PlanDraft, Problem, Problems, plan_to_dict, read_plan
from pricing.selectors import plan_draft
from pricing.services import plan_import
from pricing.taxes import tax_rates_problem

# Reading and writing documents


def plan_json(plan: Plan) -> str:
    """The plan's document: keys in schema order, two-space indent, UTF-8 text."""
    return json.dumps(plan_to_dict(plan_draft(plan)), indent=2, ensure_ascii=False) + "\n"


def plan_filename(plan: Plan) -> str:
    return f"{slugify(plan.name) or f'plan-{plan.pk}'}.json"


def parse_document(text: str) -> object:
    """The JSON value in `text`, numbers as exact Decimals (never floats).
    DocumentError when it is not JSON at all."""
    try:
        return loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise DocumentError(f"Not valid JSON: {exc}") from exc


def known_meters() -> dict[str, list[str]]:
    """What a plan document may refer to: meter API name → its dimensions."""
    return dict(Meter.objects.values_list("api_name", "dimensions"))


def check_plan(raw: object, *, name: str = "") -> PlanDraft:
    """read_plan against the meters and tax rates in the database (archived
    rates too: an exported plan still lists them). A non-empty `name`
    replaces the document's, so a plan can be imported beside its original;
    it is checked like any name in a file. Raises Problems: all of them,
    and also when the tax rates mix inclusive and exclusive, which
    plan_tax_rates_set would refuse."""
    if name.strip() and isinstance(raw, dict):
        raw = {**raw, "name": name.strip()}
    tax_rates = {rate.code: rate for rate in TaxRate.objects.all()}
    try:
        draft = read_plan(raw, known_meters(), list(tax_rates))
    except Problems as exc:
        problems = exc.problems
    else:
        problems = []
        if mixed := tax_rates_problem([tax_rates[code] for code in draft.tax_rates]):
            problems.append(Problem("tax_rates", mixed))
    if problems:
        raise Problems(problems)
    return draft


@dataclass(frozen=True)
class Imported:
    plan: Plan  # after a dry run, a plan that no longer exists
    draft: PlanDraft


def plan_file_import(*, raw: object, name: str = "", dry_run: bool = False) -> Imported:
    """Check and store a plan document, all or nothing. With `dry_run` the
    plan is created and then rolled back, so a duplicate name is reported just
    as a real import would report it, and nothing stays behind.

    Raises Problems (the document breaks a schema rule) or ValidationError
    (the database refuses the plan, e.g. its name is taken)."""
    draft = check_plan(raw, name=name)
    try:
        with transaction.atomic():
            plan = plan_import(draft=draft)
            if dry_run:
                transaction.set_rollback(True)
    except DataError as exc:
        # The schema does not yet hold numbers and texts to the column sizes
        # (PostgreSQL refuses them here); report it as a problem, not a crash.
        detail = (str(exc).splitlines() or ["a column limit"])[0]
        raise Problems([Problem("", f"a value is too large to store ({detail})")]) from exc
    return Imported(plan, draft)


# How a problem's path reads on the page: rates[1].price.tiers[2].up_to
# → "Rate 2 › price › tier 3 › up to".
_ITEM = re.compile(r"^(\w+)\[(\d+)\]$")
_ITEM_NAMES = {
    "rates": "rate",
    "tiers": "tier",
    "cells": "matrix row",
    "one_time_fees": "one-time fee",
}


@dataclass(frozen=True)
class ProblemRow:
    where: str
    path: str
    message: str


def readable_path(path: str) -> str:
    steps = []
    for step in path.split(".") if path else []:
        item = _ITEM.match(step)
        if item:
            steps.append(f"{_ITEM_NAMES.get(item[1], item[1])} {int(item[2]) + 1}")
        else:
            steps.append(step.replace("_", " "))
    where = " › ".join(steps) or "the document"
    return where[:1].upper() + where[1:]


def problem_rows(problems: list[Problem]) -> list[ProblemRow]:
    return [ProblemRow(readable_path(p.path), p.path, p.message) for p in problems]


# /pricing/import/ and /pricing/<pk>/export.json


class PlanImportForm(forms.Form):
    document = forms.CharField(
        label="Paste a plan document",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false"}),
        help_text="JSON in the tally.plan/1 format, as downloaded from a plan page or "
        "written by manage.py export_plan.",
    )
    file = forms.FileField(
        label="…or upload a file",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".json,application/json"}),
    )
    name = forms.CharField(
        label="Plan name",
        required=False,
        max_length=Plan._meta.get_field("name").max_length,
        help_text="Leave empty to use the name in the file. Enter a new name to import "
        "a copy beside an existing plan.",
    )

    def __init__(self, *args: Any, max_bytes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        pasted, upload = data.get("document", ""), data.get("file")
        if not pasted.strip() and not upload:
            raise ValidationError("Paste a plan document or choose a file to upload.")
        if pasted.strip() and upload:
            raise ValidationError("Paste a document or upload a file, not both.")
        field = "file" if upload else "document"
        too_big = f"This is larger than the {self.max_bytes:,} bytes an import may hold."
        if (upload.size if upload else len(pasted.encode())) > self.max_bytes:
            self.add_error(field, too_big)
            return data
        try:
            data["raw"] = parse_document(decode(upload.read()) if upload else pasted)
        except DocumentError as exc:
            self.add_error(field, str(exc))
        return data


@require_http_methods(["GET", "POST"])
@permission_required("pricing.add_plan", raise_exception=True)
@vary_on_headers("HX-Request")
def plan_import_view(request: HttpRequest) -> HttpResponse:
    """Upload or paste a plan document; every problem in it is listed and
    nothing is stored until it has none."""
    limit = settings.UPLOAD_MAX_BYTES
    if request.method == "POST":
        form = PlanImportForm(request.POST, request.FILES, max_bytes=limit)
    else:
        form = PlanImportForm(max_bytes=limit)
    problems: list[ProblemRow] = []
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            imported = plan_file_import(raw=data["raw"], name=data["name"])
        except Problems as exc:
            problems = problem_rows(exc.problems)
        except ValidationError as exc:
            # The schema has passed it; what is left is about the plan's name.
            form.add_error("name", exc.messages)
        else:
            plan, rates = imported.plan, len(imported.draft.rates)
            imported_what = f"“{plan.name}” imported with {rates} rate{'s' * (rates != 1)}"
            messages.success(request, f"Pricing plan {imported_what}.")
            return redirect_after_write(request, plan.get_absolute_url())
    template = page_or_partial(request, "pricing/import.html", "plan-import")
    return render(request, template, {"form": form, "problems": problems})


@require_GET
@permission_required("pricing.view_plan", raise_exception=True)
def plan_export_view(request: HttpRequest, pk: int) -> HttpResponse:
    """A price plan's file. A cost plan's prices are costs: only those who
    may see costs get them (its sheet export, pricing.cost_views)."""
    plan = get_object_or_404(Plan, pk=pk)
    if plan.is_cost and not request.user.has_perm("pricing.see_costs"):
        raise Http404("No such plan.")
    response = HttpResponse(plan_json(plan), content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, plan_filename(plan))
    return response
