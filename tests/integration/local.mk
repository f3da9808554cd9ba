EXTRA_DIST += tests/integration tests/mockproviders tests/bench

# The integration tests speak HTTP through nginx (and lighttpd) to the
# programs just built, with a private PostgreSQL and the mock providers.
# /usr/bin/python3: Debian's python3-pytest and python3-requests live there
# (the python3 on PATH may be another build that cannot see them).
# AIGW_SKIP_INTEGRATION=1 leaves them out (make distcheck from
# test_deploy.py, which is itself one of them, runs only the unit tests).
check-local:
	@if [ -n "$$AIGW_SKIP_INTEGRATION" ]; then \
		echo "integration tests skipped (AIGW_SKIP_INTEGRATION is set)"; \
	else \
		cd $(abs_top_srcdir) && AIGW_SRCDIR=$(abs_top_srcdir) AIGW_BUILDDIR=$(abs_top_builddir) \
		/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/mockproviders tests/integration; \
	fi
