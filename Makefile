# Shortcuts; the README's two commands need only python3.
.PHONY: start test lint format messages

start:
	python3 dev.py start

test:
	python3 dev.py test

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format:
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

# After changing user-facing strings: update the catalogs, translate, compile.
messages:
	DEBUG=true .venv/bin/python manage.py makemessages -l en -l zh_Hant -l zh_Hans --no-location --ignore=.venv --ignore=tests
	DEBUG=true .venv/bin/python manage.py compilemessages --ignore=.venv
