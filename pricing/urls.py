from __future__ import annotations

from django.urls import path

from pricing import charge_views, cost_views, coupon_views, plan_files, tax_views, views

app_name = "pricing"

urlpatterns = [
    # /pricing/
    path("", views.plan_list, name="list"),
    path("new/", views.plan_create_view, name="create"),
    path("import/", plan_files.plan_import_view, name="import"),
    # /pricing/tax-rates/
    path("tax-rates/", tax_views.tax_rate_list, name="tax_rates"),
    path("tax-rates/<int:pk>/archive/", tax_views.tax_rate_archive_view, name="tax_rate_archive"),
    # /pricing/coupons/
    path("coupons/", coupon_views.coupon_list, name="coupons"),
    path("coupons/<int:pk>/archive/", coupon_views.coupon_archive_view, name="coupon_archive"),
    # /pricing/costs/
    path("costs/", cost_views.cost_plan_list, name="cost_plans"),
    path("costs/<int:pk>/default/", cost_views.cost_plan_default_view, name="cost_default"),
    # /pricing/<pk>/
    path("<int:pk>/", views.plan_detail, name="detail"),
    path("<int:pk>/edit/", views.plan_edit, name="edit"),
    path("<int:pk>/export.json", plan_files.plan_export_view, name="export"),
    path("<int:pk>/rates/new/", views.rate_add, name="add_rate"),
    path("<int:pk>/rates/new/matrix-row/", views.matrix_row, name="matrix_row"),
    path("<int:pk>/rates/<int:rate_pk>/edit/", views.rate_edit, name="edit_rate"),
    path("<int:pk>/rates/<int:rate_pk>/delete/", views.rate_delete_view, name="delete_rate"),
    path("<int:pk>/charges/", charge_views.plan_charges_view, name="charges"),
    path("<int:pk>/taxes/", charge_views.plan_taxes_view, name="taxes"),
    path("<int:pk>/sheet/", cost_views.cost_sheet_import_view, name="cost_sheet_import"),
    path("<int:pk>/sheet.<str:ext>", cost_views.cost_sheet_export_view, name="cost_sheet_export"),
    path("<int:pk>/versions/<int:number>/", views.version_detail, name="version"),
]
