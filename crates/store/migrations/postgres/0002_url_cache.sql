-- Finished URL analyses are reused for the same URL (submit/url without bypass_cache).
CREATE INDEX tasks_license_url ON tasks(license_id, url, completed_at_ms);
