if HAVE_CMOCKA
unit_cflags = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
unit_ldadd = $(AIGW_LIBS) $(CMOCKA_LIBS)

core_unit_tests = tests/unit/test_util tests/unit/test_config tests/unit/test_config_named \
	tests/unit/test_http tests/unit/test_cors tests/unit/test_origins \
	tests/unit/test_chat tests/unit/test_conversation tests/unit/test_openai_api tests/unit/test_xfer tests/unit/test_template tests/unit/test_jobtype \
	tests/unit/test_output \
	tests/unit/test_jobs tests/unit/test_rate tests/unit/test_hostwin tests/unit/test_pace tests/unit/test_metrics \
	tests/unit/test_log tests/unit/test_realtime tests/unit/test_db \
	tests/unit/test_secret tests/unit/test_spawn tests/unit/test_listener tests/unit/test_prefork tests/unit/test_opts tests/unit/test_status \
	tests/unit/test_webhook tests/unit/test_webhook_netaddr tests/unit/test_status_cache
TESTS += $(core_unit_tests)
check_PROGRAMS += $(core_unit_tests)
tests_unit_test_status_cache_SOURCES = tests/unit/test_status_cache.c
tests_unit_test_status_cache_CFLAGS = $(unit_cflags)
tests_unit_test_status_cache_LDADD = $(unit_ldadd)
tests_unit_test_util_SOURCES = tests/unit/test_util.c
tests_unit_test_util_CFLAGS = $(unit_cflags)
tests_unit_test_util_LDADD = $(unit_ldadd)
tests_unit_test_config_SOURCES = tests/unit/test_config.c
tests_unit_test_config_CFLAGS = $(unit_cflags)
tests_unit_test_config_LDADD = $(unit_ldadd)
tests_unit_test_config_named_SOURCES = tests/unit/test_config_named.c
tests_unit_test_config_named_CFLAGS = $(unit_cflags)
tests_unit_test_config_named_LDADD = $(unit_ldadd)
tests_unit_test_http_SOURCES = tests/unit/test_http.c
tests_unit_test_http_CFLAGS = $(unit_cflags)
tests_unit_test_http_LDADD = $(unit_ldadd)
tests_unit_test_origins_SOURCES = tests/unit/test_origins.c
tests_unit_test_origins_CFLAGS = $(unit_cflags)
tests_unit_test_origins_LDADD = $(unit_ldadd)
tests_unit_test_cors_SOURCES = tests/unit/test_cors.c
tests_unit_test_cors_CFLAGS = $(unit_cflags)
tests_unit_test_cors_LDADD = $(unit_ldadd)
tests_unit_test_chat_SOURCES = tests/unit/test_chat.c
tests_unit_test_chat_CFLAGS = $(unit_cflags)
tests_unit_test_chat_LDADD = $(unit_ldadd)
tests_unit_test_conversation_SOURCES = tests/unit/test_conversation.c
tests_unit_test_conversation_CFLAGS = $(unit_cflags)
tests_unit_test_conversation_LDADD = $(unit_ldadd)
tests_unit_test_openai_api_SOURCES = tests/unit/test_openai_api.c
tests_unit_test_openai_api_CFLAGS = $(unit_cflags)
tests_unit_test_openai_api_LDADD = $(unit_ldadd)
tests_unit_test_xfer_SOURCES = tests/unit/test_xfer.c
tests_unit_test_xfer_CFLAGS = $(unit_cflags)
tests_unit_test_xfer_LDADD = $(unit_ldadd)
tests_unit_test_template_SOURCES = tests/unit/test_template.c
tests_unit_test_template_CFLAGS = $(unit_cflags)
tests_unit_test_template_LDADD = $(unit_ldadd)
tests_unit_test_jobtype_SOURCES = tests/unit/test_jobtype.c
tests_unit_test_jobtype_CFLAGS = $(unit_cflags)
tests_unit_test_jobtype_LDADD = $(unit_ldadd)
tests_unit_test_output_SOURCES = tests/unit/test_output.c
tests_unit_test_output_CFLAGS = $(unit_cflags)
tests_unit_test_output_LDADD = $(unit_ldadd)
tests_unit_test_jobs_SOURCES = tests/unit/test_jobs.c
tests_unit_test_jobs_CFLAGS = $(unit_cflags)
tests_unit_test_jobs_LDADD = $(unit_ldadd)
tests_unit_test_listener_SOURCES = tests/unit/test_listener.c
tests_unit_test_listener_CFLAGS = $(unit_cflags)
tests_unit_test_listener_LDADD = $(unit_ldadd)
tests_unit_test_prefork_SOURCES = tests/unit/test_prefork.c
tests_unit_test_prefork_CFLAGS = $(unit_cflags)
tests_unit_test_prefork_LDADD = $(unit_ldadd)
tests_unit_test_opts_SOURCES = tests/unit/test_opts.c src/cli/opts.c src/cli/fcgi_opts.c
tests_unit_test_opts_CFLAGS = $(unit_cflags)
tests_unit_test_opts_LDADD = $(unit_ldadd)
tests_unit_test_spawn_SOURCES = tests/unit/test_spawn.c
tests_unit_test_spawn_CFLAGS = $(unit_cflags)
tests_unit_test_spawn_LDADD = $(unit_ldadd)
tests_unit_test_webhook_SOURCES = tests/unit/test_webhook.c
tests_unit_test_webhook_CFLAGS = $(unit_cflags)
tests_unit_test_webhook_LDADD = $(unit_ldadd)
tests_unit_test_webhook_netaddr_SOURCES = tests/unit/test_webhook_netaddr.c
tests_unit_test_webhook_netaddr_CFLAGS = $(unit_cflags)
tests_unit_test_webhook_netaddr_LDADD = $(unit_ldadd)
tests_unit_test_secret_SOURCES = tests/unit/test_secret.c
tests_unit_test_secret_CFLAGS = $(unit_cflags)
tests_unit_test_secret_LDADD = $(unit_ldadd)
tests_unit_test_db_SOURCES = tests/unit/test_db.c
tests_unit_test_db_CFLAGS = $(unit_cflags)
tests_unit_test_db_LDADD = $(unit_ldadd)
tests_unit_test_rate_SOURCES = tests/unit/test_rate.c
tests_unit_test_rate_CFLAGS = $(unit_cflags)
tests_unit_test_rate_LDADD = $(unit_ldadd)
tests_unit_test_hostwin_SOURCES = tests/unit/test_hostwin.c
tests_unit_test_hostwin_CFLAGS = $(unit_cflags)
tests_unit_test_hostwin_LDADD = $(unit_ldadd)
tests_unit_test_status_SOURCES = tests/unit/test_status.c
tests_unit_test_status_CFLAGS = $(unit_cflags)
tests_unit_test_status_LDADD = $(unit_ldadd)
tests_unit_test_pace_SOURCES = tests/unit/test_pace.c
tests_unit_test_pace_CFLAGS = $(unit_cflags)
tests_unit_test_pace_LDADD = $(unit_ldadd)
tests_unit_test_metrics_SOURCES = tests/unit/test_metrics.c
tests_unit_test_metrics_CFLAGS = $(unit_cflags)
tests_unit_test_metrics_LDADD = $(unit_ldadd)
tests_unit_test_log_SOURCES = tests/unit/test_log.c
tests_unit_test_log_CFLAGS = $(unit_cflags)
tests_unit_test_log_LDADD = $(unit_ldadd)
tests_unit_test_realtime_SOURCES = tests/unit/test_realtime.c
tests_unit_test_realtime_CFLAGS = $(unit_cflags)
tests_unit_test_realtime_LDADD = $(unit_ldadd)

# the async provider adapters, from fixtures like the sync ones
TESTS += tests/unit/test_openai_batch
check_PROGRAMS += tests/unit/test_openai_batch
tests_unit_test_openai_batch_SOURCES = tests/unit/test_openai_batch.c tests/unit/prov_fixture.h \
	tests/unit/async_fixture.h
tests_unit_test_openai_batch_CFLAGS = $(unit_cflags)
tests_unit_test_openai_batch_LDADD = $(unit_ldadd)

TESTS += tests/unit/test_anthropic_batch
check_PROGRAMS += tests/unit/test_anthropic_batch
tests_unit_test_anthropic_batch_SOURCES = tests/unit/test_anthropic_batch.c \
	tests/unit/prov_fixture.h tests/unit/async_fixture.h
tests_unit_test_anthropic_batch_CFLAGS = $(unit_cflags)
tests_unit_test_anthropic_batch_LDADD = $(unit_ldadd)

TESTS += tests/unit/test_snapshot
check_PROGRAMS += tests/unit/test_snapshot
tests_unit_test_snapshot_SOURCES = tests/unit/test_snapshot.c tests/unit/prov_fixture.h \
	tests/unit/async_fixture.h
tests_unit_test_snapshot_CFLAGS = $(unit_cflags)
tests_unit_test_snapshot_LDADD = $(unit_ldadd)
endif

# No call cycle between the .c files of src/, from the objects just built.
TEST_EXTENSIONS = .py
PY_LOG_COMPILER = /usr/bin/python3
TESTS += tests/check_cycles.py
EXTRA_DIST += tests/check_cycles.py tests/fixtures/prices
# aigw.env(5) describes every variable of the configuration table.
TESTS += tests/check_man_env.py
EXTRA_DIST += tests/check_man_env.py

if HAVE_CMOCKA
TESTS += tests/unit/test_commit
check_PROGRAMS += tests/unit/test_commit
tests_unit_test_commit_SOURCES = tests/unit/test_commit.c
tests_unit_test_commit_CFLAGS = $(unit_cflags)
tests_unit_test_commit_LDADD = $(unit_ldadd)
endif

if HAVE_CMOCKA
TESTS += tests/unit/test_hub
check_PROGRAMS += tests/unit/test_hub
tests_unit_test_hub_SOURCES = tests/unit/test_hub.c
tests_unit_test_hub_CFLAGS = $(unit_cflags)
tests_unit_test_hub_LDADD = $(unit_ldadd)
endif

if HAVE_CMOCKA
TESTS += tests/unit/test_resultjson
check_PROGRAMS += tests/unit/test_resultjson
tests_unit_test_resultjson_SOURCES = tests/unit/test_resultjson.c
tests_unit_test_resultjson_CFLAGS = $(unit_cflags)
tests_unit_test_resultjson_LDADD = $(unit_ldadd)
endif

if HAVE_CMOCKA
TESTS += tests/unit/test_wake
check_PROGRAMS += tests/unit/test_wake
tests_unit_test_wake_SOURCES = tests/unit/test_wake.c
tests_unit_test_wake_CFLAGS = $(unit_cflags)
tests_unit_test_wake_LDADD = $(unit_ldadd)
endif

# the worker engine: the task engine's timing rules and each runner's life cycle
if HAVE_CMOCKA
worker_unit_tests = tests/unit/test_task tests/unit/test_chatrun tests/unit/test_jobrun \
	tests/unit/test_batchrun tests/unit/test_pieces
TESTS += $(worker_unit_tests)
check_PROGRAMS += $(worker_unit_tests)
tests_unit_test_task_SOURCES = tests/unit/test_task.c
tests_unit_test_task_CFLAGS = $(unit_cflags)
tests_unit_test_task_LDADD = $(unit_ldadd)
tests_unit_test_chatrun_SOURCES = tests/unit/test_chatrun.c
tests_unit_test_chatrun_CFLAGS = $(unit_cflags)
tests_unit_test_chatrun_LDADD = $(unit_ldadd)
tests_unit_test_jobrun_SOURCES = tests/unit/test_jobrun.c
tests_unit_test_jobrun_CFLAGS = $(unit_cflags)
tests_unit_test_jobrun_LDADD = $(unit_ldadd)
tests_unit_test_pieces_SOURCES = tests/unit/test_pieces.c
tests_unit_test_pieces_CFLAGS = $(unit_cflags)
tests_unit_test_pieces_LDADD = $(unit_ldadd)
tests_unit_test_batchrun_SOURCES = tests/unit/test_batchrun.c
tests_unit_test_batchrun_CFLAGS = $(unit_cflags)
tests_unit_test_batchrun_LDADD = $(unit_ldadd)
endif

# the one write path of final results: the database's grouped writes are
# replaced by counting fakes (ld --wrap), so no database is needed
if HAVE_CMOCKA
TESTS += tests/unit/test_results
check_PROGRAMS += tests/unit/test_results
tests_unit_test_results_SOURCES = tests/unit/test_results.c
tests_unit_test_results_CFLAGS = $(unit_cflags)
tests_unit_test_results_LDFLAGS = -Wl,--wrap=db_chat_write_results -Wl,--wrap=db_job_step_results \
	-Wl,--wrap=db_batch_results
tests_unit_test_results_LDADD = $(unit_ldadd)
endif

if HAVE_CMOCKA
TESTS += tests/unit/test_sse
check_PROGRAMS += tests/unit/test_sse
tests_unit_test_sse_SOURCES = tests/unit/test_sse.c
tests_unit_test_sse_CFLAGS = $(unit_cflags)
tests_unit_test_sse_LDADD = $(unit_ldadd)
endif

if HAVE_CMOCKA
TESTS += tests/unit/test_stream
check_PROGRAMS += tests/unit/test_stream
tests_unit_test_stream_SOURCES = tests/unit/test_stream.c tests/unit/prov_fixture.h
tests_unit_test_stream_CFLAGS = $(unit_cflags)
tests_unit_test_stream_LDADD = $(unit_ldadd)
endif
