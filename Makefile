# Build, demo and test targets; see README.md.
#
#   make                      build build/ngx_http_7digital_module.so against
#                             Debian's nginx-dev tree (/usr/share/nginx/src)
#   make NGX_SRC=/path/to/nginx-1.x.y
#                             build against another configured nginx source
#   make test                 build, then run every suite (prove -r t)
#   make demo                 build, then start the demo gateway on loopback
#   make deb                  build the Debian package in build/deb/
#   make unit                 the unit tests of the pure functions
#   make asan                 every suite again, the module built with
#                             AddressSanitizer and UBSan (build/asan) in
#                             Debian's nginx; any report fails the run
#   make valgrind             the nginx suites with nginx under memcheck
#   make fuzz                 each libFuzzer target (t/fuzz) FUZZ_SECONDS
#                             (20) on its corpus (t/fuzz/corpus/<target>)
#   make fuzz-long            each target 10^7 executions or 10 minutes,
#                             whichever comes first; not part of CI, its
#                             last result in docs/reliability.md
#   make fuzz-merge           what the runs found that adds coverage, into
#                             the corpora in t/fuzz/corpus
#   make micro                build/micro: what one signature costs
#                             (bench/run.sh runs it; docs/benchmarks.md)

SHELL :=        /bin/bash
NGX_SRC ?=      /usr/share/nginx/src
NGINX ?=        /usr/sbin/nginx
BUILD ?=        $(CURDIR)/build
MODULE :=       $(BUILD)/ngx_http_7digital_module.so
SRCS :=         $(wildcard ngx_7digital_module/*.c ngx_7digital_module/*.h)

# our own files are held to -Werror on top of nginx's warning set
CC_OPT :=       -g -O2 -fPIC -fstack-protector-strong -Wformat \
                -Werror=format-security -D_FORTIFY_SOURCE=2 \
                -Wall -Wextra -Wno-unused-parameter -Werror
LD_OPT :=       -Wl,-z,relro -Wl,-z,now -fPIC

.PHONY: all module test demo demo-stop clean deps deb

all: module

module: $(MODULE)

$(BUILD)/Makefile: config
	@mkdir -p $(BUILD)
	cd $(NGX_SRC) && \
	if [ -f conf_flags ]; then . ./conf_flags; else NGX_CONF_FLAGS=(--with-compat); fi && \
	./configure --with-cc-opt="$(CC_OPT)" --with-ld-opt="$(LD_OPT)" \
	    "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(CURDIR) \
	    --builddir=$(BUILD) > $(BUILD)/configure.log 2>&1 || \
	    { tail -30 $(BUILD)/configure.log; exit 1; }

$(MODULE): $(BUILD)/Makefile $(SRCS)
	$(MAKE) -f $(BUILD)/Makefile -C $(NGX_SRC) modules

deps:
	./bin/install-deps

test: deps module
	prove -r t

demo: deps module
	./bin/demo start

demo-stop:
	./bin/demo stop

clean:
	rm -rf $(BUILD)

# The Debian package, libnginx-mod-http-7digital_<version>_<arch>.deb, built
# with nginx-dev's dh_nginx and nginx_mod build system (debian/rules) from a
# copy of the sources in $(DEB_DIR)/src, so that the repository stays
# clean and dpkg-buildpackage's output (.deb, .buildinfo, .changes) lands
# in $(DEB_DIR)/ rather than in the repository's parent directory.  The
# version is debian/changelog's.
DEB_DIR :=      $(BUILD)/deb
DEB_SRCS :=     config ngx_7digital_module debian README.md docs conf

deb:
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/src
	cp -a $(DEB_SRCS) $(DEB_DIR)/src/
	cd $(DEB_DIR)/src && dpkg-buildpackage -us -uc -b
	@ls -1 $(DEB_DIR)/*.deb

# unit tests of the pure functions, linked without nginx (t/unit/shim.c)
PURE :=         ngx_7digital_module/ngx_http_7digital_params.c \
                ngx_7digital_module/ngx_http_7digital_crypto.c \
                ngx_7digital_module/ngx_http_7digital_cdsign.c \
                ngx_7digital_module/ngx_http_7digital_oauth.c \
                ngx_7digital_module/ngx_http_7digital_cachekey.c \
                ngx_7digital_module/ngx_http_7digital_endpoint.c \
                ngx_7digital_module/ngx_http_7digital_record.c \
                ngx_7digital_module/ngx_http_7digital_gcra.c \
                ngx_7digital_module/ngx_http_7digital_exposition.c \
                ngx_7digital_module/ngx_http_7digital_partner.c
PURE_INCS :=    -I $(BUILD) -I $(NGX_SRC)/src/core -I $(NGX_SRC)/src/event \
                -I $(NGX_SRC)/src/os/unix -I ngx_7digital_module
# built with clang's ASan and UBSan, as the fuzz targets are: a memory
# error or undefined behaviour fails the unit tests too
UNIT_CFLAGS :=  -g -O1 -fno-omit-frame-pointer \
                -fsanitize=address,undefined -fno-sanitize-recover=all \
                -Wall -Wextra -Wno-unused-parameter -Werror

.PHONY: unit
unit: $(BUILD)/unit

$(BUILD)/unit: $(BUILD)/Makefile t/unit/unit.c t/unit/shim.c $(PURE) \
               ngx_7digital_module/ngx_http_7digital_pure.h
	clang $(UNIT_CFLAGS) $(PURE_INCS) -o $@ t/unit/unit.c t/unit/shim.c \
	    $(PURE) -lcrypto -ljansson

# libFuzzer, one target per parser (t/fuzz/fuzz_<target>.c), built with
# clang, AddressSanitizer and UndefinedBehaviorSanitizer (any report a
# crash); t/fuzz/run runs them and prints what each did.  Inputs that add
# coverage go to $(FUZZ_DIR)/corpus/<target>; `make fuzz-merge` adds them
# to the repository's t/fuzz/corpus/<target>.  docs/testing.md.
FUZZ_TARGETS := oauth params choose partners cache_entry cache_key \
                endpoint record
FUZZ_DIR :=     $(BUILD)/fuzz
FUZZ_SRCS :=    $(PURE)
FUZZ_OBJS :=    $(patsubst ngx_7digital_module/%.c,$(FUZZ_DIR)/obj/%.o,\
                    $(FUZZ_SRCS)) \
                $(FUZZ_DIR)/obj/shim.o $(FUZZ_DIR)/obj/fuzz.o
FUZZ_CFLAGS :=  -g -O1 -fno-omit-frame-pointer \
                -fsanitize=address,undefined -fno-sanitize-recover=all \
                -Wall -Wextra -Wno-unused-parameter -Werror
FUZZ_BINS :=    $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_SECONDS ?= 20
FUZZ_RUNS ?=    -1

.PHONY: fuzz fuzz-long fuzz-merge fuzz-build
.SECONDARY: $(FUZZ_OBJS)
fuzz-build: $(FUZZ_BINS)

# each target FUZZ_SECONDS (FUZZ_RUNS executions, when not 0)
fuzz: $(FUZZ_BINS)
	t/fuzz/run $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_RUNS) $(FUZZ_TARGETS)

# each target 10^7 executions or 10 minutes, whichever comes first
fuzz-long: $(FUZZ_BINS)
	t/fuzz/run $(FUZZ_DIR) 600 10000000 $(FUZZ_TARGETS)

# inputs the runs found that add coverage, into the repository's corpora
fuzz-merge: $(FUZZ_BINS)
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p t/fuzz/corpus/$$t $(FUZZ_DIR)/corpus/$$t && \
	    $(FUZZ_DIR)/fuzz_$$t -merge=1 -max_len=4096 t/fuzz/corpus/$$t \
	        $(FUZZ_DIR)/corpus/$$t > $(FUZZ_DIR)/merge-$$t.log 2>&1 || \
	        { tail -20 $(FUZZ_DIR)/merge-$$t.log; exit 1; }; \
	    echo "$$t: $$(grep -o '[0-9]* new files.*' \
	        $(FUZZ_DIR)/merge-$$t.log), $$(ls t/fuzz/corpus/$$t | wc -l) in all"; \
	done

$(FUZZ_DIR)/obj/%.o: ngx_7digital_module/%.c \
                     ngx_7digital_module/ngx_http_7digital_pure.h \
                     $(BUILD)/Makefile
	@mkdir -p $(FUZZ_DIR)/obj
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(PURE_INCS) -c -o $@ $<

$(FUZZ_DIR)/obj/shim.o: t/unit/shim.c $(BUILD)/Makefile
	@mkdir -p $(FUZZ_DIR)/obj
	clang $(FUZZ_CFLAGS) $(PURE_INCS) -c -o $@ $<

$(FUZZ_DIR)/obj/fuzz.o: t/fuzz/fuzz.c t/fuzz/fuzz.h $(BUILD)/Makefile
	@mkdir -p $(FUZZ_DIR)/obj
	clang $(FUZZ_CFLAGS) $(PURE_INCS) -c -o $@ $<

$(FUZZ_DIR)/fuzz_%: t/fuzz/fuzz_%.c t/fuzz/fuzz.h $(FUZZ_OBJS)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $(PURE_INCS) -o $@ $< \
	    $(FUZZ_OBJS) -lcrypto -ljansson

# The module built with AddressSanitizer and UndefinedBehaviorSanitizer
# (any report fatal) into $(ASAN_BUILD), loaded into Debian's nginx, which
# is not instrumented: t/lib/sanitized-nginx starts it with the compiler's
# sanitizer runtime preloaded and each report written to
# $(ASAN_BUILD)/reports.  Then every suite runs against it (t/lib/Gateway.pm,
# TEST_NGINX_USE_ASAN); a report fails the block that saw it, and the run.
# clang's runtime holds both sanitizers and reads its options when it is
# loaded; gcc's UBSan reads them at its first report, after nginx has
# written its process titles over the environment.  docs/testing.md.
ASAN_CC :=      clang
ASAN_BUILD :=   $(BUILD)/asan
ASAN_MODULE :=  $(ASAN_BUILD)/ngx_http_7digital_module.so
ASAN_OPT :=     -g -O1 -fPIC -fno-omit-frame-pointer \
                -fsanitize=address,undefined -fno-sanitize-recover=all \
                -Wall -Wextra -Wno-unused-parameter -Werror \
                -fsanitize-ignorelist=$(CURDIR)/t/lib/asan.ignore
ASAN_SUITES ?=  $(filter-out t/025-debian-package.t,$(wildcard t/*.t))

.PHONY: asan asan-module
asan-module: $(ASAN_MODULE)

$(ASAN_BUILD)/Makefile: config
	@mkdir -p $(ASAN_BUILD)
	cd $(NGX_SRC) && \
	if [ -f conf_flags ]; then . ./conf_flags; \
	else NGX_CONF_FLAGS=(--with-compat); fi && \
	CC=$(ASAN_CC) ./configure --with-cc-opt="$(ASAN_OPT)" \
	    --with-ld-opt="-fsanitize=address,undefined" \
	    "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(CURDIR) \
	    --builddir=$(ASAN_BUILD) > $(ASAN_BUILD)/configure.log 2>&1 || \
	    { tail -30 $(ASAN_BUILD)/configure.log; exit 1; }

$(ASAN_MODULE): $(ASAN_BUILD)/Makefile $(SRCS)
	$(MAKE) -f $(ASAN_BUILD)/Makefile -C $(NGX_SRC) modules

asan: deps $(ASAN_MODULE)
	rm -rf $(ASAN_BUILD)/reports
	TEST_NGINX_USE_ASAN=1 TEST_NGINX_ASAN_REPORTS=$(ASAN_BUILD)/reports \
	TEST_NGINX_LOAD_MODULES=$(ASAN_MODULE) prove $(ASAN_SUITES)
	@if ls $(ASAN_BUILD)/reports/* > /dev/null 2>&1; then \
	    echo "sanitizer reports in $(ASAN_BUILD)/reports:"; \
	    head -40 $(ASAN_BUILD)/reports/*; exit 1; \
	fi
	@echo "no AddressSanitizer or UndefinedBehaviorSanitizer report"

# the nginx suites with nginx under memcheck (slow: minutes, not seconds)
.PHONY: valgrind
valgrind: module
	TEST_NGINX_USE_VALGRIND=1 prove $(filter-out t/010-unit.t t/011-fuzz.t t/003-config.t t/025-debian-package.t,$(wildcard t/0*.t))

# bench/micro.c: ns per signature, over the same pure files as the unit
# tests, optimised as the module is (-O2)
MICRO_CFLAGS := -g -O2 -Wall -Wextra -Wno-unused-parameter -Werror

.PHONY: micro
micro: $(BUILD)/micro

$(BUILD)/micro: $(BUILD)/Makefile bench/micro.c t/unit/shim.c $(PURE) \
                ngx_7digital_module/ngx_http_7digital_pure.h
	$(CC) $(MICRO_CFLAGS) $(PURE_INCS) -o $@ bench/micro.c t/unit/shim.c \
	    $(PURE) -lcrypto -ljansson
