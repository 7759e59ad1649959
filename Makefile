# One-command set-up and test. `make test` works from a fresh clone with nothing installed
# beyond Python 3.10+ (3.11 takes torch from this workplace's local cache).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test lint demo clean gpu-wheels gpu-check gpu-check-cpu

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
		echo "No display found: running headless into recordings/ (on a desktop, make demo opens the viewer); the files written are listed at the end."; \
		$(VENV)/bin/polyp-live --source assets/demo_clip.mp4 --headless --record recordings; \
	fi

# The GPU check (engine/gpu_check.py). On the GPU machine it runs with that machine's own python3
# and torch (no venv, no network); what that machine lacks travels as wheels in .whl/, fetched
# here first with `make gpu-wheels`. Results go to $$OUT there (else gpu-check-out/).
GPU_PYTHON ?= python3
GPU_WHEELS := .whl
GPU_SITE ?= /tmp/polyp-gpu-site
PLATFORMS := manylinux_2_28_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64

gpu-wheels:
	$(PYTHON) -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
		--implementation cp $(addprefix --platform ,$(PLATFORMS)) -d $(GPU_WHEELS) \
		-r requirements-gpu-wheels.txt

gpu-check:
	@if ls $(GPU_WHEELS)/*.whl >/dev/null 2>&1; then \
		$(GPU_PYTHON) -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
			--upgrade --target $(GPU_SITE) $(GPU_WHEELS)/*.whl; fi
	PYTHONPATH=$(GPU_SITE):$(CURDIR) PYTHONUNBUFFERED=1 $(GPU_PYTHON) -m engine.gpu_check \
		--out $(if $(OUT),$(OUT),gpu-check-out)

# The same script on a CPU in its tiny form (a test in `make test` runs it too).
gpu-check-cpu: setup
	$(PY) -m engine.gpu_check --device cpu --tiny --out gpu-check-out-cpu

clean:
	rm -rf $(VENV) .pytest_cache
