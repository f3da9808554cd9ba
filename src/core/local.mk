libaigw_la_SOURCES += \
	src/core/err.c src/core/err.h \
	src/core/buf.c src/core/buf.h \
	src/core/log.c src/core/log.h
libaigw_la_SOURCES += \
	src/core/util.c src/core/util.h \
	src/core/config.c src/core/config.h \
	src/core/config_named.c src/core/config_named.h \
	src/core/origins.c src/core/origins.h
libaigw_la_SOURCES += \
	src/core/secret.c src/core/secret.h
libaigw_la_SOURCES += \
	src/core/webhook.c src/core/webhook.h \
	src/core/netaddr.c src/core/netaddr.h
