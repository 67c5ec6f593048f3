from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

app_name = "pricing"


def _todo(request: HttpRequest) -> HttpResponse:
    return HttpResponse("todo")


urlpatterns = [path("", _todo, name="list")]
