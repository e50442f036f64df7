"""System checks run by `crm check` (and at start-up): configuration that would fail in use."""

from typing import Any

from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=False)
def check_keys(app_configs: Any, **kwargs: Any) -> list[Any]:
    messages: list[Any] = []
    try:
        from crm.core.crypto import keyring

        keyring()
    except Exception as exc:  # noqa: BLE001
        messages.append(Error(f"Encryption keys are not usable: {exc}", id="crm.E001"))
    return messages
