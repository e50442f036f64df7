"""URLs for convention tests: the real site plus the test-only API under /api/test/."""

from crm.core.tests.conventions_api import urlpatterns as test_patterns
from crm.urls import handler400, handler403, handler404, handler500
from crm.urls import urlpatterns as site_patterns

urlpatterns = [*test_patterns, *site_patterns]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
