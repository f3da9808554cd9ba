# tests/fuzz: libFuzzer targets, one per parser (see tests/fuzz/README.md).
# They are EXTRA_PROGRAMS of a tree configured with CC=clang --enable-fuzzing:
# "make fuzz" builds and runs them; "make" and "make check" never do.
fuzz_targets = tests/fuzz/fuzz_request tests/fuzz/fuzz_chat_request \
	tests/fuzz/fuzz_job_request tests/fuzz/fuzz_template \
	tests/fuzz/fuzz_jobtype tests/fuzz/fuzz_provider_response \
	tests/fuzz/fuzz_db_array tests/fuzz/fuzz_batch_response tests/fuzz/fuzz_openai_request
# The source tree, so that the job type targets find jobtypes/ from an
# out-of-tree build without being told.
fuzz_cppflags = $(AM_CPPFLAGS) -DAIGW_FUZZ_SRCDIR='"$(abs_top_srcdir)"'
# libaigw is compiled with -fsanitize=fuzzer-no-link (SAN_CFLAGS); only the
# targets link libFuzzer and its main().
fuzz_ldflags = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)

# Each target is built from tests/fuzz/<target>.c (automake's default
# source) and links libaigw by the LDADD every program of this tree without
# one of its own gets.
LDADD = $(AIGW_LIBS)
tests_fuzz_fuzz_request_CPPFLAGS = $(fuzz_cppflags)
tests_fuzz_fuzz_request_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_chat_request_CPPFLAGS = $(fuzz_cppflags)
tests_fuzz_fuzz_chat_request_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_job_request_CPPFLAGS = $(fuzz_cppflags)
tests_fuzz_fuzz_job_request_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_template_CPPFLAGS = $(fuzz_cppflags)
tests_fuzz_fuzz_template_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_jobtype_CPPFLAGS = $(fuzz_cppflags)
tests_fuzz_fuzz_jobtype_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_provider_response_CPPFLAGS = $(fuzz_cppflags)
tests_fuzz_fuzz_provider_response_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_db_array_CPPFLAGS = $(fuzz_cppflags)
tests_fuzz_fuzz_db_array_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_batch_response_CPPFLAGS = $(fuzz_cppflags)
tests_fuzz_fuzz_batch_response_LDFLAGS = $(fuzz_ldflags)
tests_fuzz_fuzz_openai_request_CPPFLAGS = $(fuzz_cppflags)
tests_fuzz_fuzz_openai_request_LDFLAGS = $(fuzz_ldflags)

# Every other build replays each committed corpus once through its target
# (tests/fuzz/replay.c stands in for libFuzzer's main), as part of "make
# check": in the ASan+UBSan build that is a memory check of every input a
# fuzzer ever kept. "make fuzz-replay" runs only these.
fuzz_replays = tests/fuzz/replay_fuzz_request tests/fuzz/replay_fuzz_chat_request \
	tests/fuzz/replay_fuzz_job_request tests/fuzz/replay_fuzz_template \
	tests/fuzz/replay_fuzz_jobtype tests/fuzz/replay_fuzz_provider_response \
	tests/fuzz/replay_fuzz_db_array tests/fuzz/replay_fuzz_batch_response \
	tests/fuzz/replay_fuzz_openai_request
if !ENABLE_FUZZING
TESTS += $(fuzz_replays)
check_PROGRAMS += $(fuzz_replays)
endif
fuzz-replay: $(fuzz_replays)
	$(MAKE) $(AM_MAKEFLAGS) check-TESTS TESTS='$(fuzz_replays)'
.PHONY: fuzz-replay
tests_fuzz_replay_fuzz_request_SOURCES = tests/fuzz/fuzz_request.c tests/fuzz/replay.c
tests_fuzz_replay_fuzz_request_CPPFLAGS = $(fuzz_cppflags)
tests_fuzz_replay_fuzz_chat_request_SOURCES = tests/fuzz/fuzz_chat_request.c tests/fuzz/replay.c
tests_fuzz_replay_fuzz_chat_request_CPPFLAGS = $(fuzz_cppflags)
tests_fuzz_replay_fuzz_job_request_SOURCES = tests/fuzz/fuzz_job_request.c tests/fuzz/replay.c
tests_fuzz_replay_fuzz_job_request_CPPFLAGS = $(fuzz_cppflags)
tests_fuzz_replay_fuzz_template_SOURCES = tests/fuzz/fuzz_template.c tests/fuzz/replay.c
tests_fuzz_replay_fuzz_template_CPPFLAGS = $(fuzz_cppflags)
tests_fuzz_replay_fuzz_jobtype_SOURCES = tests/fuzz/fuzz_jobtype.c tests/fuzz/replay.c
tests_fuzz_replay_fuzz_jobtype_CPPFLAGS = $(fuzz_cppflags)
tests_fuzz_replay_fuzz_provider_response_SOURCES = tests/fuzz/fuzz_provider_response.c tests/fuzz/replay.c
tests_fuzz_replay_fuzz_provider_response_CPPFLAGS = $(fuzz_cppflags)
tests_fuzz_replay_fuzz_db_array_SOURCES = tests/fuzz/fuzz_db_array.c tests/fuzz/replay.c
tests_fuzz_replay_fuzz_db_array_CPPFLAGS = $(fuzz_cppflags)
tests_fuzz_replay_fuzz_batch_response_SOURCES = tests/fuzz/fuzz_batch_response.c tests/fuzz/replay.c
tests_fuzz_replay_fuzz_batch_response_CPPFLAGS = $(fuzz_cppflags)
tests_fuzz_replay_fuzz_openai_request_SOURCES = tests/fuzz/fuzz_openai_request.c tests/fuzz/replay.c
tests_fuzz_replay_fuzz_openai_request_CPPFLAGS = $(fuzz_cppflags)

EXTRA_DIST += tests/fuzz/README.md tests/fuzz/fuzz.h tests/fuzz/run-fuzz.sh tests/fuzz/make-seeds.py \
	tests/fuzz/dict tests/fuzz/corpus

# EXTRA_PROGRAMS are not cleaned by default; nor is make fuzz's output.
CLEANFILES += $(fuzz_targets)
clean-local:
	rm -rf tests/fuzz/out

.PHONY: fuzz
if ENABLE_FUZZING
EXTRA_PROGRAMS = $(fuzz_targets)
# FUZZ_SECONDS (default 60) per target: make fuzz FUZZ_SECONDS=600
fuzz: $(fuzz_targets)
	AIGW_SRCDIR='$(abs_top_srcdir)' FUZZ_SECONDS='$(FUZZ_SECONDS)' \
		$(SHELL) $(srcdir)/tests/fuzz/run-fuzz.sh $(fuzz_targets)
else
fuzz:
	@echo "make fuzz: configure with CC=clang --enable-fuzzing first (tests/fuzz/README.md)" >&2
	@exit 1
endif
