"""The test suite's settings: the project's own, with DEBUG turned on
explicitly, as `make run` does (DEBUG is off unless asked for). Nothing has to
be exported first: `make test` on a fresh clone needs no SECRET_KEY, and static
files are read from their source folders, so no collectstatic either.

Django's test runner still runs each test with settings.DEBUG False; what DEBUG
decides here is the development key and the plain static-files storage.
tests/test_deploy.py runs the production configuration in a subprocess."""

from __future__ import annotations

import os

os.environ["DEBUG"] = "true"

from billing_site.settings import *  # noqa: E402, F403
