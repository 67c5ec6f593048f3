"""Tables for the machine-facing side of meters: API keys and rejected records."""

from __future__ import annotations

import json

import django_tables2 as tables
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from meters.models import ApiKey, RejectedRecord
from meters.tables import DASH

NEVER = mark_safe('<span class="muted">Never</span>')
# A rejected record is shown whole up to this many characters (all of it in the tooltip).
RECORD_PREVIEW = 300
# Records are shown with their keys in the order Amberflo's SDK sends them: a
# PostgreSQL jsonb column does not keep the order they arrived in.
RECORD_KEYS = (
    "uniqueId",
    "meterApiName",
    "meterValue",
    "customerId",
    "meterTimeInMillis",
    "dimensions",
)


REVOKE_FORM = """{% if not record.revoked_at and perms.meters.change_apikey %}
<form method="post" action="{% url 'meters:api_key_revoke' record.pk %}"
      hx-post="{% url 'meters:api_key_revoke' record.pk %}"
      hx-target="#api-keys" hx-swap="outerHTML"
      hx-confirm="Revoke the key “{{ record.name }}”? Anything still sending usage with it
will be refused (401) from now on. This cannot be undone.">
  {% csrf_token %}
  <button type="submit" class="small danger" aria-label="Revoke {{ record.name }}">Revoke</button>
</form>{% endif %}"""


class ApiKeyTable(tables.Table):
    name = tables.Column()
    prefix = tables.Column(verbose_name="Key", orderable=False)
    scope = tables.Column()
    created_at = tables.DateTimeColumn(verbose_name="Created", format="Y-m-d H:i")
    last_used_at = tables.DateTimeColumn(
        verbose_name="Last used", format="Y-m-d H:i", default=NEVER
    )
    status = tables.Column(accessor="revoked_at", verbose_name="Status", empty_values=())
    # Rendered with the page's context (render_table passes it), so the CSRF token is there.
    actions = tables.TemplateColumn(template_code=REVOKE_FORM, orderable=False, verbose_name="")

    class Meta:
        model = ApiKey
        fields = ["name", "prefix", "scope", "created_at", "last_used_at", "status", "actions"]
        order_by = "-created_at"
        empty_text = "No API keys yet."

    def render_prefix(self, value: str) -> SafeString:
        return format_html("<code>{}…</code>", value)

    def render_scope(self, record: ApiKey) -> SafeString:
        # The short name, as the API's 403 names it; the page explains each above.
        return format_html(
            '<span class="pill" title="{}">{}</span>', record.get_scope_display(), record.scope
        )

    def render_status(self, record: ApiKey) -> SafeString:
        if record.revoked_at is None:
            return mark_safe('<span class="pill ok">Active</span>')
        return format_html(
            '<span class="pill warn">Revoked</span> <span class="muted">{}</span>',
            f"{timezone.localtime(record.revoked_at):%Y-%m-%d %H:%M}",
        )


# Classes of app.css (no style attributes: the CSP refuses them): keep the time
# on one line, let the reason breathe, and let long JSON wrap inside its cell
# (anywhere, keeping its whitespace) instead of widening the page.
NOWRAP = {"td": {"class": "nowrap"}}


class RejectedRecordTable(tables.Table):
    received_at = tables.DateTimeColumn(verbose_name="Received", format="Y-m-d H:i:s", attrs=NOWRAP)
    source = tables.Column()
    index = tables.Column(verbose_name="Record #", attrs={"td": {"class": "num"}})
    meter = tables.Column(accessor="meter_api_name", verbose_name="Meter", orderable=False)
    customer_id = tables.Column(verbose_name="Customer ID", default=DASH)
    field = tables.Column(verbose_name="Field", default=DASH)
    reason = tables.Column(orderable=False, attrs={"td": {"class": "reason-cell"}})
    record = tables.Column(
        verbose_name="Record as received",
        orderable=False,
        default=DASH,
        attrs={"td": {"class": "record-cell"}},
    )

    class Meta:
        model = RejectedRecord
        fields = [
            "received_at",
            "source",
            "index",
            "meter",
            "customer_id",
            "field",
            "reason",
            "record",
        ]
        # Newest first; a batch's records in the order they were sent (see the
        # model's Meta.ordering).
        order_by = ("-received_at", "index")
        empty_text = "No rejected records."

    def render_index(self, value: int) -> str:
        return str(value + 1)  # people count records from 1, as the upload report does

    def render_meter(self, record: RejectedRecord) -> SafeString:
        if record.meter is not None:
            return format_html(
                '<a href="{}">{}</a>', record.meter.get_absolute_url(), record.meter.label
            )
        if record.meter_api_name:
            return format_html(
                '<code>{}</code> <span class="muted">(unknown)</span>', record.meter_api_name
            )
        return DASH

    def render_field(self, value: str) -> SafeString:
        return format_html("<code>{}</code>", value)

    def render_record(self, value: object) -> SafeString:
        if isinstance(value, dict):
            known = {k: value[k] for k in RECORD_KEYS if k in value}
            value = known | {k: v for k, v in sorted(value.items()) if k not in known}
        compact = json.dumps(value, ensure_ascii=False)  # one line; wraps at its spaces
        shown = compact if len(compact) <= RECORD_PREVIEW else compact[:RECORD_PREVIEW] + "…"
        return format_html('<code class="record-json" title="{}">{}</code>', compact, shown)
