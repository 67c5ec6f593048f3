from __future__ import annotations

from datetime import datetime

from django.db.models import OuterRef, Q, QuerySet, Subquery

from customers.models import Customer, PlanAssignment


def customers_with_current_plan(now: datetime) -> QuerySet[Customer]:
    """Customers annotated with the name of the plan they are on at `now`."""
    active = PlanAssignment.objects.filter(
        Q(end_at__isnull=True) | Q(end_at__gt=now), customer=OuterRef("pk"), start_at__lte=now
    )
    return Customer.objects.annotate(current_plan=Subquery(active.values("plan__name")[:1]))
