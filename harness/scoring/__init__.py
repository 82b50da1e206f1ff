"""Scoring owned by the harness: metrics per task type and bootstrap confidence intervals."""
