"""Test-wide set-up: test settings, and factories every app's tests can use."""

import os

os.environ.setdefault("CRM_ENV", "test")
os.environ.setdefault("CRM_TASK_BACKEND", "immediate")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytest_plugins = ["crm.testing.fixtures", "crm.testing.browser"]
