#!/usr/bin/env python3
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")
    if not ({"SECRET_KEY", "SECRET_KEY_FILE", "DEBUG"} & os.environ.keys()):
        # A checkout with no configuration at all is a developer's: run
        # manage.py in development mode. Anything configured keeps its DEBUG,
        # and the web servers (wsgi/asgi) never get this default.
        os.environ["DEBUG"] = "true"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
