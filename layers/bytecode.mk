# Included by layers/nudge/Makefile and functions/Makefile: the shipped code carries its bytecode.
#
# On Lambda the code is read-only (/opt for layers, /var/task for functions), so Python can never
# cache what it compiles: without .pyc files, every cold start compiles each module it imports again
# (about 370 for an email function, twice the import's time). Bytecode is specific to the Python
# version (not to the machine: python3.12 on x86_64 compiles for arm64 alike), so a python3.12 is
# needed to build, found in this order: LAYER_PYTHON (make or environment variable), python3.12 on
# PATH, pyenv's 3.12. Each candidate is run, not only looked up: a pyenv shim exists on PATH even
# when the version it points to is not selected.
#
# --invalidation-mode unchecked-hash: the .pyc is used without looking at its source (the source's
# mtime changes in the zip round trip, and nothing edits it in /opt). -s/-p: the paths compiled in are
# where Lambda mounts the code, not this build's scratch directory, so two builds of the same source
# give the same bytes (and SAM uploads no new layer version for an unchanged one).
ifndef LAYER_PYTHON
LAYER_PYTHON := $(shell for candidate in python3.12 "$$(pyenv prefix 3.12 2>/dev/null)/bin/python3.12" \
		"$${PYENV_ROOT:-$$HOME/.pyenv}"/versions/3.12*/bin/python3.12; do \
	"$$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 12); print(sys.executable)' \
		2>/dev/null && break; done)
endif

# $(call compile_bytecode,<directory>,<where Lambda mounts it>)
define compile_bytecode
	@"$(or $(LAYER_PYTHON),false)" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null || { { \
		echo "Cannot compile the shipped bytecode: no python3.12 (LAYER_PYTHON='$(LAYER_PYTHON)')."; \
		echo "The functions run on python3.12 and bytecode is version-specific. Put python3.12 on PATH,"; \
		echo "install it with pyenv (pyenv install 3.12), or name one: make build LAYER_PYTHON=<its path>."; \
		} >&2; exit 1; }
	"$(LAYER_PYTHON)" -m compileall -q -j 0 --invalidation-mode unchecked-hash -s "$(1)" -p "$(2)" "$(1)"
endef
