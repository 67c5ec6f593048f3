"""A URLconf for tests of what happens when a view fails unexpectedly: the
project's own URLs plus two views that raise, one behind the machine
endpoints' decorator (meters.machine_http.machine_api) and one page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from billing_site.urls import urlpatterns as project_urlpatterns
from meters.machine_http import machine_api
from meters.models import ApiKey


class Boom(Exception):
    pass


@machine_api("POST", scope=ApiKey.Scope.INGEST)
def failing_machine_endpoint(request: HttpRequest) -> HttpResponse:
    raise Boom("secret detail that must not reach the caller")


def failing_page(request: HttpRequest) -> HttpResponse:
    raise Boom("secret detail that must not reach the browser")


urlpatterns = [
    path("test-failing/machine/", failing_machine_endpoint),
    path("test-failing/page/", failing_page),
    *project_urlpatterns,
]
