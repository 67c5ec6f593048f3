from __future__ import annotations

from django.urls import path

from invoices import commitment_views, margin_views, views

app_name = "invoices"

urlpatterns = [
    # /invoices/
    path("invoices/", views.invoice_list, name="list"),
    path("invoices/margins/", margin_views.margin_report_view, name="margins"),
    path("invoices/<int:pk>/", views.invoice_detail, name="detail"),
    path("invoices/<int:pk>/invoice.pdf", views.invoice_document, name="document"),
    path("invoices/<int:pk>/finalize/", views.invoice_finalize_view, name="finalize"),
    path("invoices/<int:pk>/hold/", views.invoice_hold_view, name="hold"),
    path("invoices/<int:pk>/pay/", views.invoice_pay_view, name="pay"),
    path(
        "invoices/<int:pk>/uncollectible/", views.invoice_uncollectible_view, name="uncollectible"
    ),
    path("invoices/<int:pk>/void/", views.invoice_void_view, name="void"),
    path("invoices/<int:pk>/credit/", views.credit_note_create_view, name="credit"),
    path("credit-notes/<int:pk>/", views.credit_note_detail, name="credit_note"),
    path(
        "credit-notes/<int:pk>/credit-note.pdf", views.credit_note_document, name="credit_note_pdf"
    ),
    # /credit-grants/: prepaid credit, shown on the customer page
    path("credit-grants/<int:pk>/void/", views.credit_grant_void_view, name="credit_grant_void"),
    # /coupon-redemptions/: coupons given, shown on the customer page
    path("coupon-redemptions/<int:pk>/remove/", views.coupon_remove_view, name="coupon_remove"),
    # /customers/<pk>/…: a customer's billing, shown inside the customer page
    path("customers/<int:pk>/billing/", views.customer_billing, name="customer_billing"),
    path("customers/<int:pk>/invoice.pdf", views.invoice_pdf, name="pdf"),
    path(
        "customers/<int:pk>/credit-grants/",
        views.credit_grant_create_view,
        name="credit_grant_create",
    ),
    path("customers/<int:pk>/coupons/", views.coupon_redeem_view, name="coupon_redeem"),
    path(
        "customers/<int:pk>/commitments/",
        commitment_views.commitment_create_view,
        name="commitment_create",
    ),
    path(
        "customers/<int:pk>/assignments/<int:assignment_pk>/change-plan/",
        views.plan_change_view,
        name="plan_change",
    ),
]
