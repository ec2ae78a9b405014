"""The training service: an algorithm zoo scored on the same purged validation, kept in a registry."""
