libaigw_la_SOURCES += \
	src/jobs/template.c src/jobs/template.h \
	src/jobs/jobtype.c src/jobs/jobtype.h \
	src/jobs/registry.c src/jobs/registry.h \
	src/jobs/input.c src/jobs/input.h \
	src/jobs/describe.c src/jobs/describe.h \
	src/jobs/output.c src/jobs/output.h
