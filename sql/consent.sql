-- The research-consent rule of the original pipeline: a consent date that
-- is present and not zero (the epoch).
SET timezone = 'UTC';

SELECT d AS share_with_research_as_of_date,
       stedi.has_research_consent(d) AS consents
  FROM (VALUES (NULL::timestamptz),
               (to_timestamp(0)),
               ('1970-01-01 00:00:00.001+00'),
               ('1969-12-31 23:59:59.999+00'),
               (to_timestamp(1655564376361 / 1000.0)),
               ('infinity'),
               ('-infinity')) AS v(d);

-- Never null, so that it reads the same in WHERE and in a select list.
SELECT stedi.has_research_consent(NULL) IS NOT NULL AS never_null;

-- Immutable and leakproof: safe in views, indexes and security barriers.
SELECT provolatile, proleakproof, proisstrict, proparallel
  FROM pg_proc WHERE oid = 'stedi.has_research_consent'::regproc;
