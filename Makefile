# Two commands on a fresh machine: `make demo` and `make test`. Both create .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= demo
# pytest options, e.g. `make test PYTEST_ARGS="-m 'not slow'"`
PYTEST_ARGS ?=

.PHONY: setup setup-torch setup-web test test-fast demo web clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@echo "==> creating $(VENV) with $(PYTHON) and installing requirements.txt (a few minutes the first time)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

# PyTorch, for the FFNet weight converter and its tests (not needed to train, export or predict).
setup-torch: $(VENV)/.torch-installed

$(VENV)/.torch-installed: $(VENV)/.installed requirements-torch.txt
	@echo "==> installing requirements-torch.txt (PyTorch, for the FFNet converter tests)"
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-torch.txt
	touch $@

# The page in web/ and its browser test: LiteRT.js from the pinned npm packages, and Chromium
# (Debian's package; installed as root, only when it is missing).
setup-web: web/node_modules/.package-lock.json /usr/bin/chromium

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	@echo "==> installing the page's pinned npm packages into web/node_modules"
	cd web && npm ci --no-audit --no-fund

/usr/bin/chromium:
	@echo "==> installing Chromium (Debian's package) for the browser test"
	apt-get update && apt-get install -y chromium

test: setup setup-torch setup-web
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest tests $(PYTEST_ARGS)

# The development loop: everything except the tests marked slow (end-to-end runs, conversions).
test-fast: setup setup-torch
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest tests -m "not slow" -q $(PYTEST_ARGS)

# The demo: synthetic street scenes -> train a few minutes on CPU -> evaluate -> export -> overlays.
DEMO_EPOCHS ?= 60
DEMO_TRAIN_FRAMES ?= 160
RUN := TF_CPP_MIN_LOG_LEVEL=2 $(PY)
demo: setup
	@echo "==> [1/6] synthetic street scenes in the Cityscapes layout: $(DEMO_DIR)/data"
	$(RUN) -m fast_scnn_tf.synthetic --out $(DEMO_DIR)/data --num-train $(DEMO_TRAIN_FRAMES) --num-val 16 --size 256 512 --seed 0
	@echo "==> [2/6] training for $(DEMO_EPOCHS) epochs on CPU (5 to 7 minutes on 2 cores): $(DEMO_DIR)/run"
	$(RUN) train.py --data-dir $(DEMO_DIR)/data --model-dir $(DEMO_DIR)/run --epochs $(DEMO_EPOCHS) \
		--batch-size 4 --crop-size 128 256 --eval-every 15 --checkpoint-every 200
	@echo "==> [3/6] evaluating the best checkpoint on the val frames"
	$(RUN) evaluate.py --checkpoint $(DEMO_DIR)/run --data-dir $(DEMO_DIR)/data --overwrite
	@echo "==> [4/6] exporting the SavedModel for TF Serving"
	$(RUN) export.py --checkpoint $(DEMO_DIR)/run --mode cls --output $(DEMO_DIR)/export \
		--input-size 256 512 --calibration-data $(DEMO_DIR)/data --version 1 --overwrite
	@echo "==> [5/6] exporting float32 and int8 TFLite models (cls head, 256x512)"
	$(RUN) export.py --checkpoint $(DEMO_DIR)/run --mode cls --output $(DEMO_DIR)/export --tflite \
		--quantize none int8 --input-size 256 512 --calibration-data $(DEMO_DIR)/data --overwrite
	@echo "==> [6/6] colour overlays of the int8 TFLite model's predictions on the val frames"
	$(RUN) predict.py --model $(DEMO_DIR)/export/fast_scnn_cls_int8_256x512.tflite \
		$(DEMO_DIR)/data/leftImg8bit/val --output $(DEMO_DIR)/predictions --overwrite
	@echo
	@echo "Done. Everything is under $(DEMO_DIR)/:"
	@echo "  data/              synthetic frames (official Cityscapes layout)"
	@echo "  run/               config.json, checkpoints/, best/, logs/ (TensorBoard), metrics.json"
	@echo "  export/fast_scnn/1 SavedModel for TF Serving"
	@echo "  export/*.tflite    float32 and int8 TFLite models"
	@echo "  predictions/       *_overlay.png and *_labels.png for the val frames"

# Segment in the browser: the shipped CamVid model exported into web/models/ (float32; int8 too
# when data/CamVid is there to calibrate it), the folder served on localhost. The exports are
# made again whenever the shipped model's files are newer than they are.
WEB_PORT ?= 8000
SHIPPED_MODEL := models/camvid/config.json $(wildcard models/camvid/best/*)
WEB_MODEL := web/models/fast_scnn_cls_float32_360x480.tflite
WEB_MODEL_INT8 := web/models/fast_scnn_cls_int8_360x480.tflite
WEB_MODELS := $(WEB_MODEL) $(if $(wildcard data/CamVid/train),$(WEB_MODEL_INT8))
web: setup web/node_modules/.package-lock.json $(WEB_MODELS)
	$(PY) web/serve.py --port $(WEB_PORT)

$(WEB_MODEL): $(SHIPPED_MODEL) | setup
	$(RUN) export.py --checkpoint models/camvid --mode cls --tflite --quantize none --output web/models \
		--overwrite

$(WEB_MODEL_INT8): $(SHIPPED_MODEL) | setup
	$(RUN) export.py --checkpoint models/camvid --mode cls --tflite --quantize int8 \
		--calibration-data data/CamVid --output web/models --overwrite

clean:
	rm -rf $(DEMO_DIR) .pytest_cache
