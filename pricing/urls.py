from __future__ import annotations

from django.urls import path

from pricing import plan_files, views

app_name = "pricing"

urlpatterns = [
    # /pricing/
    path("", views.plan_list, name="list"),
    path("new/", views.plan_create_view, name="create"),
    path("import/", plan_files.plan_import_view, name="import"),
    # /pricing/<pk>/
    path("<int:pk>/", views.plan_detail, name="detail"),
    path("<int:pk>/edit/", views.plan_edit, name="edit"),
    path("<int:pk>/export.json", plan_files.plan_export_view, name="export"),
    path("<int:pk>/rates/new/", views.rate_add, name="add_rate"),
    path("<int:pk>/rates/new/matrix-row/", views.matrix_row, name="matrix_row"),
    path("<int:pk>/rates/<int:rate_pk>/edit/", views.rate_edit, name="edit_rate"),
    path("<int:pk>/rates/<int:rate_pk>/delete/", views.rate_delete_view, name="delete_rate"),
    path("<int:pk>/versions/<int:number>/", views.version_detail, name="version"),
]
