-- The splits of the training table: each customer in train, validation or
-- test, from the first 32 bits of their key against the shares of the
-- setting split_proportions (default 80/10/10).
SELECT stedi.split_bounds('80/10/10') AS default_shares,
       stedi.split_bounds(' 33.33 / 33.33 / 33.34 ') AS thirds,
       stedi.split_bounds('100/0/0') AS all_train;
-- proportions that do not parse, or do not add up to 100
SELECT stedi.split_bounds('80/10');
SELECT stedi.split_bounds('80/10/11');
SELECT stedi.split_bounds('80/10/10/0');
SELECT stedi.split_bounds('33.333/33.333/33.334');
SELECT stedi.split_bounds('-10/60/50');
SELECT stedi.split_bounds('eighty/10/10');
SELECT stedi.split_bounds('');
SELECT stedi.split_bounds('80./10/10');

-- the edges: 0.8 * 2^32 = 0xcccccccc.cc and 0.9 * 2^32 = 0xe6666666.66
SELECT k, stedi.customer_split(k::uuid)
  FROM (VALUES ('00000000-0000-0000-0000-000000000000'), ('cccccccc-ffff-ffff-ffff-ffffffffffff'),
               ('cccccccd-0000-0000-0000-000000000000'), ('e6666666-ffff-ffff-ffff-ffffffffffff'),
               ('e6666667-0000-0000-0000-000000000000'), ('ffffffff-ffff-ffff-ffff-ffffffffffff')) AS e(k);
-- 10,000 keys drawn at random: about 80/10/10
SELECT stedi.customer_split(md5('customer ' || i)::uuid) AS split, count(*)
  FROM generate_series(1, 10000) AS i GROUP BY 1 ORDER BY 1;

-- in the zones (the keys, and so the splits, depend on the database's
-- random pseudonym secret: the checks hold whatever it is): every
-- customer's pairs in their split, no customer in two
SELECT count(*) AS customers, count(*) FILTER (WHERE split IN ('train', 'validation', 'test')) AS in_a_split
  FROM curated.customer;
SELECT count(*) AS pairs_in_another_split
  FROM curated.machine_learning AS m JOIN curated.customer AS c USING (customer_key)
 WHERE m.split <> c.split;
SELECT count(*) AS customers_in_two_splits
  FROM (SELECT customer_key FROM curated.machine_learning GROUP BY 1 HAVING count(DISTINCT split) > 1) AS d;
SELECT count(*) AS customers_whose_split_is_not_their_keys
  FROM curated.customer WHERE split <> stedi.customer_split(customer_key);

-- other proportions: the next refresh compares both curated tables whole
SELECT stedi.set_setting('split_proportions', '90/20/10');
SELECT stedi.set_setting('split_proportions', '50/25/25');
SELECT value FROM stedi.settings WHERE name = 'split_proportions';
SELECT view, method, reason LIKE 'the split proportions changed;%' AS split_changed FROM stedi.refresh()
 WHERE view IN ('curated.customer'::regclass, 'curated.machine_learning'::regclass) ORDER BY 1;
SELECT count(*) AS customers_whose_split_is_not_their_keys
  FROM curated.customer WHERE split <> stedi.customer_split(customer_key);
SELECT count(*) AS pairs_in_another_split
  FROM curated.machine_learning AS m JOIN curated.customer AS c USING (customer_key)
 WHERE m.split <> c.split;
SELECT public.zones_differ() AS zones_differ;
-- the same proportions written otherwise change nothing
SELECT stedi.set_setting('split_proportions', '50.00/25/25.0');
SELECT count(*) AS runs_needed FROM stedi.landing_change;
-- (and are stored in one spelling)
SELECT value FROM stedi.settings WHERE name = 'split_proportions';
-- what the last refresh applied, and that nothing changed since
SELECT stedi.training_set_state() - 'last_refresh' - 'extension_version' AS state;
SELECT stedi.set_setting('split_proportions', '70/15/15');
SELECT stedi.training_set_state() ->> 'split_proportions' AS applied,
       stedi.training_set_state() -> 'settings_changed_since' AS changed_since;
SELECT stedi.set_setting('split_proportions', '50/25/25');
-- back to the default
SELECT stedi.set_setting('split_proportions', NULL);
SELECT view, method, reason LIKE 'the split proportions changed;%' AS split_changed FROM stedi.refresh()
 WHERE view IN ('curated.customer'::regclass, 'curated.machine_learning'::regclass) ORDER BY 1;
SELECT count(*) AS customers_whose_split_is_not_their_keys
  FROM curated.customer WHERE split <> stedi.customer_split(customer_key);
SELECT public.zones_differ() AS zones_differ;
