"""medbench: a containerized, reproducible leaderboard harness for medical-imaging foundation models."""

__version__ = "0.1.0"

# Bumped whenever scoring code changes what a number means; part of every cache key.
SCORING_VERSION = 2
