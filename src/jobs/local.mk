libaigw_la_SOURCES += \
	src/jobs/template.c src/jobs/template.h \
	src/jobs/jobtype.c src/jobs/jobtype.h \
	src/jobs/output.c src/jobs/output.h
