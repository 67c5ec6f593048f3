from __future__ import annotations

from django.apps import AppConfig


class BillingSiteConfig(AppConfig):
    """Site-wide concerns that belong to no one app: the roles and the users page."""

    name = "billing_site"
    label = "billing_site"
    verbose_name = "Site"
