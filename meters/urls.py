from __future__ import annotations

app_name = "meters"
urlpatterns: list[object] = []
