# restyle: `make run` installs and starts the app on the embedded demo; `make test` installs and
# runs the tests. Both are idempotent: the venv is rebuilt only when pyproject.toml changes.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: install run test test-all bench browser clean

$(VENV)/.installed: pyproject.toml .ci/cv2-shims/*/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# The two cv2 shims make mediapipe and controlnet-aux share one cv2 (contrib, headless).
	$(BIN)/pip install --disable-pip-version-check ./.ci/cv2-shims/opencv-contrib-python \
		./.ci/cv2-shims/opencv-python-headless -e '.[test]'
	$(BIN)/pip check
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/restyle serve --demo

# Debian's Chromium drives the browser end-to-end test (Playwright cannot download its own here).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

test: install browser
	$(BIN)/python -m pytest

test-all: install browser
	$(BIN)/python -m pytest -m "slow or not slow"

# make bench lists them; make bench BENCH="room --repeats 3" runs one.
bench: install
	$(BIN)/python -m bench $(BENCH)

clean:
	rm -rf $(VENV) .pytest_cache
