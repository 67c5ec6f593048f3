"""The Amberflo-compatible API, mounted under /amberflo/ so it cannot clash
with the HTML pages (/customers/ is a screen). A team on Amberflo's SDK sets
IngestSession.root_url and ApiSession.root_url to "http://<host>/amberflo".

The SDK appends paths by string concatenation and does not follow redirects
on POST, so each path is routed both with and without its trailing slash.
"""

from __future__ import annotations

from django.urls import path

from customers.amberflo_api import customers
from meters.api import ingest
from meters.usage_api import usage, usage_all, usage_batch

app_name = "amberflo"

urlpatterns = [
    # /amberflo/ingest/ (batching client) and /amberflo/ingest (custom schema)
    path("ingest/", ingest, name="ingest"),
    path("ingest", ingest),
    # /amberflo/customers/
    path("customers/", customers, name="customers"),
    path("customers", customers),
    # /amberflo/usage/...
    path("usage/", usage, name="usage"),
    path("usage", usage),
    path("usage/batch", usage_batch, name="usage_batch"),
    path("usage/batch/", usage_batch),
    path("usage/all", usage_all, name="usage_all"),
    path("usage/all/", usage_all),
]
