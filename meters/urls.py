from __future__ import annotations

from django.urls import path

from meters import api_key_views, rejected_views, views

app_name = "meters"

urlpatterns = [
    # /meters/
    path("", views.meter_list, name="list"),
    path("new/", views.meter_create_view, name="create"),
    path("new/dimension-row/", views.dimension_row, name="dimension_row"),
    # /meters/rejected/: records the ingestion API or an upload refused
    path("rejected/", rejected_views.rejected_list, name="rejected"),
    # /meters/api-keys/: machines' credentials for the ingestion API
    path("api-keys/", api_key_views.api_key_list, name="api_keys"),
    path("api-keys/<int:pk>/revoke/", api_key_views.api_key_revoke_view, name="api_key_revoke"),
    # /meters/<pk>/
    path("<int:pk>/", views.meter_detail, name="detail"),
    path("<int:pk>/edit/", views.meter_edit, name="edit"),
    path("<int:pk>/events/upload/", views.event_upload, name="upload"),
]
