EXTRA_DIST += tests/integration tests/mockproviders

# The integration tests speak HTTP through nginx to the programs just built.
# /usr/bin/python3: Debian's python3-pytest and python3-requests live there.
check-local:
	cd $(abs_top_srcdir) && AIGW_SRCDIR=$(abs_top_srcdir) AIGW_BUILDDIR=$(abs_top_builddir) \
		/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/mockproviders tests/integration
