"""The users page (Admin only): who may log in, with which role; create a
user, change a role, deactivate or reactivate."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from billing_site.forms import ROLE_HELP, RoleForm, UserCreateForm
from billing_site.htmx import page_or_partial, redirect_after_write
from billing_site.services import role_of, user_active_set, user_create, user_role_set


@require_GET
@permission_required("auth.view_user", raise_exception=True)
def user_list(request: HttpRequest) -> HttpResponse:
    users = User.objects.prefetch_related("groups").order_by("-is_active", "username")
    rows = [(user, role_of(user)) for user in users]
    return render(request, "users/list.html", {"rows": rows, "roles": ROLE_HELP})


@require_http_methods(["GET", "POST"])
@permission_required("auth.add_user", raise_exception=True)
@vary_on_headers("HX-Request")
def user_create_view(request: HttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = user_create(**form.cleaned_data)
        except ValidationError as exc:  # the same username, created a moment ago
            form.add_error(None, exc)
        else:
            role = form.cleaned_data["role"]
            messages.success(request, f"User “{user.username}” created with the role {role}.")
            return redirect_after_write(request, reverse("users:list"))
    template = page_or_partial(request, "users/create.html", "user-form")
    return render(request, template, {"form": form})


@require_POST
@permission_required("auth.change_user", raise_exception=True)
def user_role_view(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(User, pk=pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles.")
        return redirect("users:list")
    try:
        user_role_set(user=user, role=form.cleaned_data["role"], by=_acting(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{user.username} is now {form.cleaned_data['role']}.")
    return redirect("users:list")


@require_POST
@permission_required("auth.change_user", raise_exception=True)
def user_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _set_active(request, pk, active=False)


@require_POST
@permission_required("auth.change_user", raise_exception=True)
def user_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _set_active(request, pk, active=True)


def _set_active(request: HttpRequest, pk: int, *, active: bool) -> HttpResponse:
    user = get_object_or_404(User, pk=pk)
    try:
        user_active_set(user=user, active=active, by=_acting(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        done = "reactivated" if active else "deactivated; they can no longer log in"
        messages.success(request, f"{user.username} {done}.")
    return redirect("users:list")


def _acting(request: HttpRequest) -> User:
    # LoginRequiredMiddleware and permission_required let only a logged-in
    # user this far.
    assert isinstance(request.user, User)
    return request.user
