"""Fixtures shared by the customers tests: the guide's customer and plan."""

from __future__ import annotations

import pytest

from customers.models import Customer
from pricing.models import Plan
from tests.factories import CustomerFactory, PlanFactory


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory.create(name="Test Customer", customer_id="test-customer")


@pytest.fixture
def plan() -> Plan:
    return PlanFactory.create(name="Chatbot Usage Plan")
