"""Model-based exploration: the MODEL-1 state machine, its profiles and standalone replays."""
