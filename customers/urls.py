from __future__ import annotations

from django.urls import path

from customers import views

app_name = "customers"

urlpatterns = [
    # /customers/
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create_view, name="create"),
    # /customers/<pk>/ (its plans and its invoice)
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/edit/", views.customer_edit, name="edit"),
    path("<int:pk>/assign-plan/", views.assign_plan, name="assign_plan"),
    path(
        "<int:pk>/assignments/<int:assignment_pk>/end/",
        views.end_assignment,
        name="end_assignment",
    ),
]
