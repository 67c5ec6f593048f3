from __future__ import annotations

from django.urls import path

from billing_site import users_views

app_name = "users"

urlpatterns = [
    # /users/
    path("", users_views.user_list, name="list"),
    path("new/", users_views.user_create_view, name="create"),
    # /users/<pk>/
    path("<int:pk>/role/", users_views.user_role_view, name="role"),
    path("<int:pk>/deactivate/", users_views.user_deactivate, name="deactivate"),
    path("<int:pk>/reactivate/", users_views.user_reactivate, name="reactivate"),
]
