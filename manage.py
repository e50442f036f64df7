#!/usr/bin/env python
"""Django's manage.py; the `crm` command is the same thing with a friendlier name."""

import sys

from crm.cli import main

if __name__ == "__main__":
    sys.exit(main())
