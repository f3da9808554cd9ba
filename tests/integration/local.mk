EXTRA_DIST += tests/integration tests/mockproviders tests/bench

# The integration tests speak HTTP through nginx (and lighttpd) to the
# programs just built, with a private PostgreSQL and the mock providers.
# /usr/bin/python3: Debian's python3-pytest and python3-requests live there
# (the python3 on PATH may be another build that cannot see them).
check-local:
	cd $(abs_top_srcdir) && AIGW_SRCDIR=$(abs_top_srcdir) AIGW_BUILDDIR=$(abs_top_builddir) \
		/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/mockproviders tests/integration
