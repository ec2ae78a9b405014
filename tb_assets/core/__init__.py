"""Pure library: statistics and data handling on arrays and frames. No dagster import here."""
