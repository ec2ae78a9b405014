"""What the daemon does: scheduled refresh as asset backfills, the new-data sensor, alerts."""
