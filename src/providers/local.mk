libaigw_la_SOURCES += \
	src/providers/provider.h src/providers/provider.c src/providers/state.c \
	src/providers/common.h src/providers/post.c \
	src/providers/openai.c \
	src/providers/anthropic.c \
	src/providers/gemini.c \
	src/providers/perplexity.c \
	src/providers/batch.c \
	src/providers/openai_batch.c \
	src/providers/anthropic_batch.c \
	src/providers/snapshot.c \
	src/providers/mock.c \
	src/providers/turns.c \
	src/providers/pricing.c \
	src/providers/sse.h src/providers/sse.c \
	src/providers/stream.h src/providers/stream.c
EXTRA_DIST += tests/fixtures/providers tests/fixtures/streams

if HAVE_CMOCKA
TESTS += tests/unit/test_provider
check_PROGRAMS += tests/unit/test_provider
tests_unit_test_provider_SOURCES = tests/unit/test_provider.c tests/unit/prov_fixture.h
tests_unit_test_provider_CFLAGS = $(unit_cflags)
tests_unit_test_provider_LDADD = $(unit_ldadd)

TESTS += tests/unit/test_openai
check_PROGRAMS += tests/unit/test_openai
tests_unit_test_openai_SOURCES = tests/unit/test_openai.c tests/unit/prov_fixture.h
tests_unit_test_openai_CFLAGS = $(unit_cflags)
tests_unit_test_openai_LDADD = $(unit_ldadd)

TESTS += tests/unit/test_anthropic
check_PROGRAMS += tests/unit/test_anthropic
tests_unit_test_anthropic_SOURCES = tests/unit/test_anthropic.c tests/unit/prov_fixture.h
tests_unit_test_anthropic_CFLAGS = $(unit_cflags)
tests_unit_test_anthropic_LDADD = $(unit_ldadd)

TESTS += tests/unit/test_gemini
check_PROGRAMS += tests/unit/test_gemini
tests_unit_test_gemini_SOURCES = tests/unit/test_gemini.c tests/unit/prov_fixture.h
tests_unit_test_gemini_CFLAGS = $(unit_cflags)
tests_unit_test_gemini_LDADD = $(unit_ldadd)

TESTS += tests/unit/test_perplexity
check_PROGRAMS += tests/unit/test_perplexity
tests_unit_test_perplexity_SOURCES = tests/unit/test_perplexity.c tests/unit/prov_fixture.h
tests_unit_test_perplexity_CFLAGS = $(unit_cflags)
tests_unit_test_perplexity_LDADD = $(unit_ldadd)

TESTS += tests/unit/test_mock
check_PROGRAMS += tests/unit/test_mock
tests_unit_test_mock_SOURCES = tests/unit/test_mock.c
tests_unit_test_mock_CFLAGS = $(unit_cflags)
tests_unit_test_mock_LDADD = $(unit_ldadd)

TESTS += tests/unit/test_turns
check_PROGRAMS += tests/unit/test_turns
tests_unit_test_turns_SOURCES = tests/unit/test_turns.c
tests_unit_test_turns_CFLAGS = $(unit_cflags)
tests_unit_test_turns_LDADD = $(unit_ldadd)

TESTS += tests/unit/test_pricing
check_PROGRAMS += tests/unit/test_pricing
tests_unit_test_pricing_SOURCES = tests/unit/test_pricing.c
tests_unit_test_pricing_CFLAGS = $(unit_cflags)
tests_unit_test_pricing_LDADD = $(unit_ldadd)
endif
