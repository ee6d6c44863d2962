"""Programs shipped as source (C, Go), built on first use into the user's cache."""
