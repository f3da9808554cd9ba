EXTRA_DIST += tests/integration tests/mockproviders tests/bench \
	tests/browser/package.json tests/browser/package-lock.json \
	tests/sdk/package.json tests/sdk/package-lock.json tests/sdk/cases.mjs \
	$(wildcard $(srcdir)/tests/browser/*.py) $(wildcard $(srcdir)/tests/browser/*.mjs) \
	tests/browser/types/usage.ts tests/browser/types/tsconfig.json

# "make check" runs only what needs no service (the unit tests, the fuzz
# corpus replays, check_cycles), as a distribution's package build does.
# "make check-integration" runs the rest: the integration tests speak HTTP
# through nginx (and lighttpd) to the programs just built, with a private
# PostgreSQL and the mock providers; the browser tests drive the pages in
# headless chromium (playwright-core) against the same kind of stack. The
# tools come from "script/bootstrap --test". The browser tests are a pytest
# run of their own because the integration tests import their conftest by
# name; both runs go on when the first fails. AIGW_SKIP_BROWSER_TESTS=1
# skips the browser tests.
# A narrower run: make check-integration PYTEST_INTEGRATION=tests/integration/test_health.py
# PYTEST_BROWSER= (an empty list skips that run), PYTEST_ARGS='-x -k name';
# from the environment too (PYTEST_BROWSER= script/test).
# /usr/bin/python3: Debian's python3-pytest and python3-requests live there
# (the python3 on PATH may be another build that cannot see them).
PYTEST_INTEGRATION ?= tests/mockproviders tests/integration
PYTEST_BROWSER ?= tests/browser
PYTEST_ARGS ?=
check-integration: all
	@cd $(abs_top_srcdir) || exit 1; status=0; \
	export AIGW_SRCDIR='$(abs_top_srcdir)' AIGW_BUILDDIR='$(abs_top_builddir)'; \
	if [ -n '$(strip $(PYTEST_INTEGRATION))' ]; then \
		/usr/bin/python3 -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) $(PYTEST_INTEGRATION) \
			|| status=$$?; \
	fi; \
	if [ -n '$(strip $(PYTEST_BROWSER))' ]; then \
		/usr/bin/python3 -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) $(PYTEST_BROWSER) \
			|| status=$$?; \
	fi; \
	exit $$status
.PHONY: check-integration
