EXTRA_DIST += tests/integration tests/mockproviders tests/bench \
	tests/browser/package.json tests/browser/package-lock.json \
	tests/sdk/package.json tests/sdk/package-lock.json tests/sdk/cases.mjs \
	$(wildcard $(srcdir)/tests/browser/*.py) $(wildcard $(srcdir)/tests/browser/*.mjs) \
	tests/browser/types/usage.ts tests/browser/types/tsconfig.json

# The integration tests speak HTTP through nginx (and lighttpd) to the
# programs just built, with a private PostgreSQL and the mock providers.
# The browser tests drive the pages in headless chromium (playwright-core,
# installed by script/bootstrap) against the same kind of stack; they are
# a pytest run of their own because the integration tests import their
# conftest by name. Both runs go on when the first fails; set
# AIGW_SKIP_BROWSER_TESTS=1 to skip the browser tests.
# /usr/bin/python3: Debian's python3-pytest and python3-requests live there
# (the python3 on PATH may be another build that cannot see them).
# AIGW_SKIP_INTEGRATION=1 leaves them out (make distcheck from
# test_deploy.py, which is itself one of them, runs only the unit tests).
check-local:
	@if [ -n "$$AIGW_SKIP_INTEGRATION" ]; then \
		echo "integration tests skipped, browser tests too (AIGW_SKIP_INTEGRATION is set)"; \
		exit 0; \
	fi; \
	cd $(abs_top_srcdir) || exit 1; status=0; \
	AIGW_SRCDIR=$(abs_top_srcdir) AIGW_BUILDDIR=$(abs_top_builddir) \
		/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/mockproviders tests/integration \
		|| status=$$?; \
	AIGW_SRCDIR=$(abs_top_srcdir) AIGW_BUILDDIR=$(abs_top_builddir) \
		/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/browser \
		|| status=$$?; \
	exit $$status
