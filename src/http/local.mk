libaigw_la_SOURCES += \
	src/http/http.c src/http/http.h \
	src/http/server.c src/http/server.h \
	src/http/routes.c src/http/routes.h \
	src/http/auth.c src/http/auth.h \
	src/http/cors.c src/http/cors.h \
	src/http/chat.c src/http/chat.h \
	src/http/conversation.c src/http/conversation.h \
	src/http/openai.c src/http/openai.h src/http/openai_submit.c \
	src/http/openai_request.c src/http/openai_request.h \
	src/http/openai_stream.c src/http/openai_stream.h \
	src/http/commit.c src/http/commit.h \
	src/http/hub.c src/http/hub.h \
	src/http/status_cache.c src/http/status_cache.h \
	src/http/jobs.c src/http/jobs.h \
	src/http/realtime.c src/http/realtime.h src/http/realtime_params.c \
	src/http/ops.c \
	src/http/analysis.c \
	src/http/metrics.c src/http/metrics.h \
	src/http/listener.c src/http/listener.h \
	src/http/pool.c src/http/pool.h \
	src/http/prefork.c src/http/prefork.h \
	src/http/fcgi.c src/http/fcgi.h \
	src/http/cgi.c src/http/cgi.h \
	src/http/spawn.c src/http/spawn.h \
	src/http/wake.c src/http/wake.h \
	src/http/webhookreq.c src/http/webhookreq.h
