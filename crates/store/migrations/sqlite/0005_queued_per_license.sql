-- The Analyst API bounds the tasks one license may have waiting (error 115): counting
-- them reads only the queued rows of that license.
CREATE INDEX tasks_license_queued ON tasks(license_id) WHERE state = 'queued';
