from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from meters.customer_directory import customer_directory
from meters.meter_rules import MAX_LABEL, check_meter
from meters.models import Meter

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
        help_texts = {
            "unique_dimension": "Unique count meters only: the dimension whose distinct "
            "values are counted (e.g. user). Other types count no dimension.",
        }

    def clean_dimensions(self) -> list[str]:
        # An empty row is a row the user added and did not fill: left out.
        return [n for n in self.cleaned_data.get("dimensions") or [] if n]

    def clean(self) -> dict[str, Any]:
        """The rules every door shares (meters.meter_rules), each problem shown
        next to its field unless the field already has one."""
        data = super().clean() or {}
        meter_type = data.get("meter_type") or ""
        # The field is hidden for other types (static/js/app.js) but still
        # sent, holding whatever was typed before the type changed: ignored
        # here, where the API would refuse it.
        if meter_type != Meter.MeterType.UNIQUE_COUNT:
            data["unique_dimension"] = ""
        fields, problems = check_meter(
            label=data.get("label") or "",
            api_name=data.get("api_name") or "",
            meter_type=meter_type,
            dimensions=data.get("dimensions") or [],
            unique_dimension=data.get("unique_dimension") or "",
        )
        for name, message in problems.items():
            if name not in self.errors:
                self.add_error(name, message)
        if "unique_dimension" not in self.errors:
            data["unique_dimension"] = fields.unique_dimension
        return data


class MeterEditForm(forms.Form):
    """The meter's label, the one field that may change; meters.services.
    meter_update checks it, so its errors come from the rules every door shares."""

    label = forms.CharField(
        required=False,
        help_text=Meter._meta.get_field("label").help_text,
        widget=forms.TextInput(attrs={"maxlength": MAX_LABEL, "autofocus": True}),
    )


@dataclass(frozen=True)
class PickedCustomer:
    """The customer picked in a form, as meters knows a customer: by its ID."""

    customer_id: str


class CustomerField(forms.ChoiceField):
    """One customer of the customer directory (meters/customer_directory.py),
    posted as its customerId and cleaned to a PickedCustomer, or None when left
    empty: what ModelChoiceField(to_field_name="customer_id") gave, without
    meters importing customers. The choices are read each time the form is
    drawn or checked, so a customer added since is offered."""

    default_error_messages = {
        "invalid_choice": "Select a valid choice. That choice is not one of the available choices."
    }

    def __init__(self, *, empty_label: str, **kwargs: Any) -> None:
        def choices() -> list[tuple[str, str]]:
            return [("", empty_label), *customer_directory().choices()]

        super().__init__(choices=choices, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        return value.customer_id if isinstance(value, PickedCustomer) else value

    def clean(self, value: Any) -> PickedCustomer | None:
        customer_id = super().clean(value)
        return PickedCustomer(customer_id) if customer_id else None


class EventUploadForm(forms.Form):
    records = forms.CharField(
        label="Paste events",
        required=False,
        widget=forms.Textarea(attrs={"rows": 9, "spellcheck": "false"}),
        help_text="A JSON array of records: meterApiName, meterValue, dimensions, and "
        "optionally customerId, meterTimeInMillis (epoch ms) and uniqueId. Sending the same "
        "text or file again counts nothing twice.",
    )
    file = forms.FileField(
        label="…or upload a file",
        required=False,
        help_text="JSON, NDJSON (one record per line) or CSV with columns meterApiName, "
        "meterValue, customerId, meterTimeInMillis, uniqueId, dimensions.<name>.",
        widget=forms.ClearableFileInput(attrs={"accept": ".json,.ndjson,.jsonl,.csv"}),
    )
    customer = CustomerField(
        required=False,
        empty_label="— records name their customer —",
        help_text="Used for records without a customerId.",
    )
    allow_backfill = forms.BooleanField(
        label="Allow older history (backfill)",
        required=False,
        # The help text names the window, set in __init__ from settings.
    )

    def __init__(self, *args: Any, max_bytes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes
        self.fields["allow_backfill"].help_text = (
            f"Records older than {settings.INGEST_BACKFILL_DAYS} days are refused unless this "
            "is ticked: tick it only to load past usage on purpose (it may change invoices "
            "already sent). Applies to this upload only."
        )

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
