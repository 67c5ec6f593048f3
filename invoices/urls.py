from __future__ import annotations

from django.urls import path

from invoices import views

app_name = "invoices"

urlpatterns = [
    # /customers/<pk>/invoice.pdf
    path("<int:pk>/invoice.pdf", views.invoice_pdf, name="pdf"),
]
