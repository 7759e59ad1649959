"""The model bundle format, defined below both the app and training in models/pipeline/bundle.py;
re-exported here for the engine and the app."""

from models.pipeline.bundle import (
    BUNDLE_FORMAT,
    MANIFEST,
    ONNX_DIR,
    PNS_FILE,
    SAMIHS_FILE,
    BundleError,
    ModelBundle,
    load_bundle,
    save_bundle,
)

__all__ = [
    "BUNDLE_FORMAT",
    "MANIFEST",
    "ONNX_DIR",
    "PNS_FILE",
    "SAMIHS_FILE",
    "BundleError",
    "ModelBundle",
    "load_bundle",
    "save_bundle",
]
