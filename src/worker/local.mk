libaigw_la_SOURCES += \
	src/worker/xfer.c src/worker/xfer.h \
	src/worker/hostwin.c src/worker/hostwin.h \
	src/worker/pace.c src/worker/pace.h \
	src/worker/rate.c src/worker/rate.h \
	src/worker/provider_routes.c src/worker/provider_routes.h \
	src/worker/resultjson.c src/worker/resultjson.h \
	src/worker/pieces.c src/worker/pieces.h \
	src/worker/task.c src/worker/task.h \
	src/worker/results.c src/worker/results.h \
	src/worker/states.c src/worker/states.h \
	src/worker/work.h \
	src/worker/chatrun.c src/worker/chatrun.h \
	src/worker/jobrun.c src/worker/jobrun.h \
	src/worker/itemindex.c src/worker/itemindex.h \
	src/worker/batchturns.c src/worker/batchturns.h \
	src/worker/batchrun.c src/worker/batchrun.h \
	src/worker/webhooks.c src/worker/webhooks.h \
	src/worker/webhooks_body.c src/worker/webhooks_body.h \
	src/worker/loop.c src/worker/loop.h
