from __future__ import annotations

from django.urls import path

from meters import views

app_name = "meters"

urlpatterns = [
    # /meters/
    path("", views.meter_list, name="list"),
    path("new/", views.meter_create_view, name="create"),
    path("new/dimension-row/", views.dimension_row, name="dimension_row"),
    # /meters/<pk>/
    path("<int:pk>/", views.meter_detail, name="detail"),
    path("<int:pk>/events/upload/", views.event_upload, name="upload"),
]
