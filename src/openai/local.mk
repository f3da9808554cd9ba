libaigw_la_SOURCES += \
	src/openai/object.c src/openai/object.h
