"""Forms of the cost plans page and a cost plan's price sheet import."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from meters.records import DocumentError, decode
from pricing.models import Plan
from pricing.money import CURRENCIES

EFFECTIVE_HELP = (
    "When the provider's prices start: usage from then on is costed at them. Leave empty "
    "for now. Earlier usage keeps the prices it had."
)


class CostPlanForm(forms.Form):
    name = forms.CharField(
        max_length=Plan._meta.get_field("name").max_length,
        help_text="e.g. “Model provider costs”.",
        widget=forms.TextInput(attrs={"autofocus": True}),
    )
    currency = forms.ChoiceField(
        choices=[(c, c) for c in CURRENCIES],
        initial="USD",
        help_text="The currency the provider charges in; margins are shown for invoices in it.",
    )


def effective_from_field() -> forms.DateTimeField:
    return forms.DateTimeField(
        label="Effective from",
        required=False,
        help_text=EFFECTIVE_HELP,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class CostSheetForm(forms.Form):
    """A price sheet upload: JSON (tally.cost-sheet/1) or CSV, by its name."""

    file = forms.FileField(
        label="Price sheet",
        widget=forms.ClearableFileInput(attrs={"accept": ".json,.csv,application/json,text/csv"}),
        help_text="JSON in the tally.cost-sheet/1 format, or CSV with the columns "
        "meter,<dimensions…>,unit_price (docs/COST_SHEETS.md).",
    )
    effective_from = effective_from_field()

    def __init__(self, *args: Any, max_bytes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > self.max_bytes:
            raise ValidationError(
                f"This is larger than the {self.max_bytes:,} bytes a sheet may hold."
            )
        name = (upload.name or "").lower()
        if not name.endswith((".json", ".csv")):
            raise ValidationError("Upload a .json or .csv price sheet.")
        try:
            text = decode(upload.read())
        except DocumentError as exc:
            raise ValidationError(str(exc)) from exc
        return ("json" if name.endswith(".json") else "csv", text)
