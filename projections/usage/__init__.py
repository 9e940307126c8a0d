"""The usage read model: records and their sums in 1-minute, 1-hour and 1-day buckets."""
