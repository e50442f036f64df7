"""Log records carry the current request id so one request can be followed across lines."""

import logging

from crm.core import context


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = context.current().request_id or "-"
        return True
