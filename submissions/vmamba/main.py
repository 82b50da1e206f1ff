"""Contract v1 entrypoint: this folder's manifest served by medbench_models (family, pooling, variants)."""

import os
import sys

from medbench_models.submission import FamilySubmission
from medbench_sdk import serve

if __name__ == "__main__":
    sys.exit(serve(FamilySubmission(os.path.join(os.path.dirname(os.path.abspath(__file__)), "submission.yaml"))))
