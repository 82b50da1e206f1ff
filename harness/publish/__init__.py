"""Publishing: aggregate records into a ranked leaderboard (Markdown, JSON, CSV)."""
