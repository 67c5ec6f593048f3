from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from billing_site import activity_views
from billing_site.api import api
from meters.api import ingest

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="customers:list"), name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    # Machines: usage ingestion (Amberflo-compatible; both spellings, no redirect)
    path("ingest/", ingest, name="ingest"),
    path("ingest", ingest),
    path("api/v1/", api.urls),
    path("amberflo/", include("billing_site.amberflo_urls")),
    # /meters/...
    path("meters/", include("meters.urls")),
    # /pricing/...
    path("pricing/", include("pricing.urls")),
    # /customers/...
    path("customers/", include("customers.urls")),
    # /invoices/..., /credit-notes/... and a customer's billing region
    path("", include("invoices.urls")),
    # /users/ (Admin only): accounts and their roles
    path("users/", include("billing_site.users_urls")),
    # /activity/ (Admin only): the audit trail
    path("activity/", activity_views.activity_list, name="activity"),
]
