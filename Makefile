# One-command set-up and test. `make test` works from a fresh clone with nothing installed
# beyond Python 3.10+ (3.11 takes torch from this workplace's local cache).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test lint demo clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -e '.[dev]'
	@bash .ci/system-libs.sh
	touch $(STAMP)

lint: setup
	$(VENV)/bin/ruff check app engine models training tests

test: setup lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

# The viewer on the bundled clip with the bundled model; headless (annotated video written to
# recordings/) where there is no display.
demo: setup
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
		$(VENV)/bin/polyp-live --source assets/demo_clip.mp4 --loop; \
	else \
		echo "No display found: running headless; the annotated video goes to recordings/ (on a desktop, make demo opens the viewer)."; \
		$(VENV)/bin/polyp-live --source assets/demo_clip.mp4 --headless --record recordings; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache
