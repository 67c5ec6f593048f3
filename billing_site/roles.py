"""The three roles, as Django groups: each role's permissions are declared here
once, and `roles_sync` makes the groups match.

A role is the set of model permissions ("app_label.codename") its group holds;
views check those permissions with @permission_required, never the role's
name, so a role is changed here and nowhere else. To change what a role may do
(a new model, a future "see costs" permission), edit this table and add a data
migration that calls `roles_sync` (billing_site/migrations/0001_roles.py shows
how).

Invariant: each role holds every permission of the role before it (Viewer ⊂
Billing operator ⊂ Admin), so a role can be read as a minimum level.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.contrib.auth.management import create_permissions
from django.db import DEFAULT_DB_ALIAS

VIEWER = "Viewer"
OPERATOR = "Billing operator"
ADMIN = "Admin"

# Every model of our apps, by app label: what Viewer sees and Admin manages.
MODELS: dict[str, tuple[str, ...]] = {
    "meters": ("meter", "usageevent", "rejectedrecord", "apikey"),
    "pricing": ("plan", "rate", "pricecell", "taxrate", "coupon"),
    "customers": ("customer", "planassignment"),
    "invoices": (
        "invoice",
        "creditnote",
        "creditgrant",
        "creditledgerentry",
        "couponredemption",
        "invoiceadjustment",
        "commitment",
    ),
}
ACTIONS = ("view", "add", "change", "delete")


def _every(actions: tuple[str, ...], models: dict[str, tuple[str, ...]]) -> frozenset[str]:
    return frozenset(
        f"{app}.{action}_{model}"
        for app, names in models.items()
        for model in names
        for action in actions
    )


_VIEWER = _every(("view",), MODELS)
_OPERATOR = _VIEWER | {
    "customers.add_customer",
    "customers.change_customer",
    "customers.add_planassignment",
    "customers.change_planassignment",
    "customers.delete_planassignment",
    "meters.add_usageevent",  # uploads on a meter's page
    "invoices.finalize_invoice",  # finalize or hold a draft, record a payment
    "invoices.add_creditgrant",  # grant prepaid or promotional credit
    "invoices.change_creditgrant",  # void what is left of a grant (its only change)
    "invoices.add_couponredemption",  # give a customer a coupon
    "invoices.change_couponredemption",  # remove it (its only change)
    "invoices.add_commitment",  # make a prepaid commitment, which issues its invoice
}
_ADMIN = (
    _OPERATOR
    | _every(ACTIONS, MODELS)
    | _every(ACTIONS, {"auth": ("user", "group")})  # the users page
    | {"auditlog.view_logentry"}  # the Activity page (django-auditlog's entries)
    | {"invoices.correct_invoice"}  # void, uncollectible, credit notes
    | {"pricing.see_costs"}  # costs and margins, wherever they are shown
)

# Lowest first; the users page offers them in this order.
ROLES: dict[str, frozenset[str]] = {VIEWER: _VIEWER, OPERATOR: _OPERATOR, ADMIN: _ADMIN}


@dataclass(frozen=True)
class RolesSyncResult:
    # Declared permissions not in the database (yet): a model whose migration
    # runs later. Empty once every migration has run.
    missing: frozenset[str]


def roles_sync(*, apps: Apps = global_apps, using: str = DEFAULT_DB_ALIAS) -> RolesSyncResult:
    """Create each role's group if needed and give it exactly the declared
    permissions. Idempotent. Inside a migration pass the migration's `apps`.

    Permissions are normally created after `migrate` (post_migrate), too late
    for a data migration, so the ones for every installed app are created here
    first."""
    for label in sorted({p.partition(".")[0] for perms in ROLES.values() for p in perms}):
        # The installed app config says the app has models; `apps` says which.
        create_permissions(global_apps.get_app_config(label), verbosity=0, using=using, apps=apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    known = {
        f"{app}.{codename}": pk
        for pk, app, codename in Permission.objects.using(using).values_list(
            "pk", "content_type__app_label", "codename"
        )
    }
    declared = frozenset().union(*ROLES.values())
    for name, permissions in ROLES.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.set([known[p] for p in permissions if p in known])
    return RolesSyncResult(missing=declared - known.keys())
