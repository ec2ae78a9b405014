"""Asset checks: contracts on stored data, the leakage ones blocking."""
