#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quickbot.settings")
    # manage.py is how people run the portal on a laptop: local defaults (DEBUG on)
    # apply unless the environment says otherwise. gunicorn (wsgi.py) never sets this.
    os.environ.setdefault("LOCAL_RUN", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
