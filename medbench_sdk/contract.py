"""Constants of the container contract, shared by the SDK and the harness."""

import os

CONTRACT_VERSION = 1

KINDS = ("embed", "finetune")

# Mount points; the environment variables exist so the SDK can be exercised outside a container.
INPUT_DIR = os.environ.get("MEDBENCH_INPUT", "/input")
OUTPUT_DIR = os.environ.get("MEDBENCH_OUTPUT", "/output")

# Files of each kind, relative to /input and /output.
EMBED_INPUTS = ("task.json", "images.npy")
FINETUNE_INPUTS = (
    "task.json",
    "train_images.npy",
    "train_labels.npy",
    "val_images.npy",
    "val_labels.npy",
    "test_images.npy",
)
EMBED_OUTPUTS = ("embeddings.npy", "result.json")
FINETUNE_OUTPUTS = ("test_probs.npy", "result.json")
FINETUNE_OPTIONAL_OUTPUTS = ("val_probs.npy",)

# Exit codes a submission uses; anything else non-zero is an unclassified crash.
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3
EXIT_SUBMISSION_ERROR = 4
