# coughwatch developer entry points. `make demo` and `make test` set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MONITOR_VENV := .venv-monitor
APT_PACKAGES := mosquitto mosquitto-clients pulseaudio pulseaudio-utils libportaudio2 \
                libasound2-plugins ffmpeg openssl systemd
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system demo test lint bench clean

setup: system $(VENV)/.installed

# System packages the monitor and the tests use (Debian/Ubuntu/Raspberry Pi OS).
system:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[train,dev]'
	touch $@

# The monitor alone, as deployed (base install: no torch, not editable); `make bench` measures it.
$(MONITOR_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(MONITOR_VENV)
	$(MONITOR_VENV)/bin/pip install -q --upgrade pip
	$(MONITOR_VENV)/bin/pip install -q .
	touch $@

demo: setup
	@bash monitor/examples/demo.sh

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check monitor train export tests bench

bench: setup $(MONITOR_VENV)/.installed
	$(MONITOR_VENV)/bin/pip install -q --no-deps --force-reinstall .  # this checkout's monitor
	BENCH_MONITOR=$(MONITOR_VENV)/bin/cough-monitor $(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(MONITOR_VENV) .pytest_cache .ruff_cache .hypothesis
