-- Migration 54: what retention dropped, per table: every row of the table
-- before dropped_before is gone (the end of the latest day, week or month
-- it dropped). Reports that compare tables (completeness: the invocations'
-- counts against the spans and logs stored, ingest_losses, and
-- completeness_hours, whose months outlive the days of the raw tables)
-- start where every table they compare is still whole, instead of reading
-- a day whose rows one table lost to retention as data lost in the
-- pipeline. Retention records the row before it drops; readers take the
-- latest per table. Not partitioned, and not itself retained: a row per
-- table and run.
CREATE TABLE IF NOT EXISTS {{local "retention_cutoffs"}}{{onCluster}}
(
    table_name String,
    dropped_before DateTime('UTC'),
    recorded_at DateTime('UTC') DEFAULT now()
)
ENGINE = {{engine "MergeTree" "retention_cutoffs"}}
ORDER BY (table_name, dropped_before);
{{distributed "retention_cutoffs" "rand()"}};
