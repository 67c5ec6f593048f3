from __future__ import annotations

app_name = "pricing"
urlpatterns: list[object] = []
