libaigw_la_SOURCES += \
	src/jobtype/template.c src/jobtype/template.h \
	src/jobtype/jobtype.c src/jobtype/jobtype.h \
	src/jobtype/registry.c src/jobtype/registry.h \
	src/jobtype/input.c src/jobtype/input.h \
	src/jobtype/describe.c src/jobtype/describe.h \
	src/jobtype/output.c src/jobtype/output.h
