libaigw_la_SOURCES += \
	src/worker/xfer.c src/worker/xfer.h \
	src/worker/hostwin.c src/worker/hostwin.h \
	src/worker/pace.c src/worker/pace.h \
	src/worker/work.h \
	src/worker/rate.c src/worker/rate.h \
	src/worker/runner.c src/worker/runner.h \
	src/worker/jobrun.c \
	src/worker/batch.c
