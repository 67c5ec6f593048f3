from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import (
    password_validators_help_texts,
    validate_password,
)
from django.contrib.auth.validators import UnicodeUsernameValidator

from billing_site.roles import ADMIN, OPERATOR, ROLES, VIEWER

ROLE_HELP = {
    VIEWER: "sees everything, changes nothing",
    OPERATOR: "customers, plan assignments and usage uploads",
    ADMIN: "also meters, pricing, API keys and users",
}
ROLE_CHOICES = [(role, role) for role in ROLES]


class UserCreateForm(forms.Form):
    username = forms.CharField(
        max_length=User._meta.get_field("username").max_length,
        validators=[UnicodeUsernameValidator()],
        help_text="What they log in with: letters, digits and @ . + - _ only.",
    )
    email = forms.EmailField(required=False)
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        strip=False,
        help_text=" ".join(password_validators_help_texts()),
    )
    role = forms.ChoiceField(
        choices=ROLE_CHOICES,
        initial=VIEWER,
        help_text="; ".join(f"{role}: {what}" for role, what in ROLE_HELP.items()) + ".",
    )

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"]
        # Case-insensitively: "Alice" beside "alice" is one person twice.
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("A user with that username already exists.")
        return username

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password = cleaned.get("password")
        if password:
            user = User(username=cleaned.get("username", ""), email=cleaned.get("email", ""))
            try:
                validate_password(password, user)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES)
