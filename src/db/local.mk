libaigw_la_SOURCES += \
	src/db/db.c src/db/db.h \
	src/db/status.c src/db/status.h src/db/sql.h \
	src/db/cols.c src/db/cols.h \
	src/db/chats.c src/db/chats.h \
	src/db/responses.c src/db/responses.h \
	src/db/pieces.c src/db/pieces.h \
	src/db/pieces_view.c src/db/pieces_view.h src/db/views_sql.h \
	src/db/jobs.c src/db/jobs.h \
	src/db/ratelimit.c src/db/ratelimit.h \
	src/db/reap.c src/db/reap.h \
	src/db/keys.c src/db/keys.h \
	src/db/batches.c src/db/batches.h \
	src/db/workers.c src/db/workers.h \
	src/db/analysis.c src/db/analysis.h \
	src/db/metrics.c src/db/metrics.h \
	src/db/listen.c src/db/listen.h \
	src/db/webhooks.c src/db/webhooks.h \
	src/db/migrate.c src/db/migrate.h
