from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from customers.models import Customer
from meters.models import Meter
from meters.naming import DIMENSION_NAME_PATTERN

TYPE_DESCRIPTIONS = {
    Meter.MeterType.COUNT: "adds up every event's meterValue (10 means ten API calls; "
    "1000 means a thousand tokens).",
    Meter.MeterType.EVENT_COUNT: "counts events, whatever their meterValue.",
    Meter.MeterType.MAX: "the highest meterValue in the period (e.g. peak seats).",
    Meter.MeterType.UNIQUE_COUNT: "the number of distinct values of one dimension "
    "(e.g. active users).",
    Meter.MeterType.LATEST: "the last meterValue sent in the period (e.g. storage in use).",
}


class RowsWidget(forms.Widget):
    """Several inputs of one name, one per row; the page renders the rows."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[str]:
        getlist = getattr(data, "getlist", None)
        return [v.strip() for v in getlist(name)] if getlist else list(data.get(name, []))


class MeterForm(forms.ModelForm[Meter]):
    dimensions = forms.Field(widget=RowsWidget, required=False)

    class Meta:
        model = Meter
        fields = ["label", "api_name", "meter_type", "dimensions", "unique_dimension"]
        widgets = {
            "label": forms.TextInput(attrs={"data-slug-source": "id_api_name", "autofocus": True}),
            "api_name": forms.TextInput(attrs={"data-slug-target": "1"}),
            "meter_type": forms.Select(),
        }

    def clean_dimensions(self) -> list[str]:
        names = [n for n in self.cleaned_data.get("dimensions") or [] if n]
        for name in names:
            if not re.match(DIMENSION_NAME_PATTERN, name):
                raise ValidationError(
                    f"“{name}” is not a valid dimension name: start with a letter; use "
                    "letters, digits, “_”, “-” or “.”."
                )
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ValidationError(f"The dimension “{name}” is listed twice.")
            seen.add(name)
        return names

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("meter_type") == Meter.MeterType.UNIQUE_COUNT:
            counted = data.get("unique_dimension", "")
            if not counted:
                self.add_error("unique_dimension", "Name the dimension whose values are counted.")
            elif counted not in data.get("dimensions", []):
                self.add_error("unique_dimension", "This must be one of the meter's dimensions.")
        elif data.get("unique_dimension"):
            data["unique_dimension"] = ""
        return data


class EventUploadForm(forms.Form):
    records = forms.CharField(
        label="Paste events",
        required=False,
        widget=forms.Textarea(attrs={"rows": 9, "spellcheck": "false"}),
        help_text="A JSON array of records: meterApiName, meterValue, dimensions, and "
        "optionally customerId, meterTimeInMillis (epoch ms) and uniqueId.",
    )
    file = forms.FileField(
        label="…or upload a file",
        required=False,
        help_text="JSON, NDJSON (one record per line) or CSV with columns meterApiName, "
        "meterValue, customerId, meterTimeInMillis, uniqueId, dimensions.<name>.",
        widget=forms.ClearableFileInput(attrs={"accept": ".json,.ndjson,.jsonl,.csv"}),
    )
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.order_by("name"),
        required=False,
        empty_label="— records name their customer —",
        help_text="Used for records without a customerId.",
        to_field_name="customer_id",
    )

    def __init__(self, *args: Any, max_bytes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        if not data.get("records", "").strip() and not upload:
            raise ValidationError("Paste some events or choose a file to upload.")
        if data.get("records", "").strip() and upload:
            raise ValidationError("Paste events or upload a file, not both.")
        if upload and upload.size > self.max_bytes:
            self.add_error("file", f"The file is larger than {self.max_bytes // 1_000_000} MB.")
        if len(data.get("records", "").encode()) > self.max_bytes:
            self.add_error("records", f"The text is larger than {self.max_bytes // 1_000_000} MB.")
        return data
