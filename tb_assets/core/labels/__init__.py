"""Labels: triple-barrier events, their targets and their overlap weights (AFML ch. 3-4)."""
