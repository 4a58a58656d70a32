-- The reports read model of the transactions service, built from `purchase.completed`
-- events (queue `transactions.reports`, or a replay of the `itemx.events.log` stream).
--
-- One event touches two users, the buyer and the seller: two distribution keys. So it
-- is applied as two single-shard transactions, one per (user, role), each writing the
-- user's inbox row and day row together (`citus.md`, rule 10). A redelivered event
-- finds its inbox row and changes nothing; a crash between the two halves is repaired
-- by the redelivery, whose first half is then a no-op.

-- The inbox: one row per user and event (and role), keyed on the user's shard. It also
-- keeps what the event contributed, so the day totals can be recomputed from it (the
-- replay's swap does that) and a report can be audited event by event.
CREATE TABLE reports_inbox (
    user_id      bigint      NOT NULL,
    event_id     uuid        NOT NULL,
    role         text        NOT NULL CHECK (role IN ('buyer', 'seller')),
    day          date        NOT NULL,     -- the event's occurred_at, as a UTC date
    amount_cents bigint      NOT NULL CHECK (amount_cents > 0),
    applied_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, event_id, role)
);
CREATE INDEX reports_inbox_applied ON reports_inbox (applied_at);

-- A user's figures per UTC day: what the report endpoint reads (one shard per user).
CREATE TABLE report_days (
    user_id         bigint  NOT NULL,
    day             date    NOT NULL,
    purchases_count integer NOT NULL DEFAULT 0 CHECK (purchases_count >= 0),
    purchases_total bigint  NOT NULL DEFAULT 0 CHECK (purchases_total >= 0),
    sales_count     integer NOT NULL DEFAULT 0 CHECK (sales_count >= 0),
    sales_total     bigint  NOT NULL DEFAULT 0 CHECK (sales_total >= 0),
    PRIMARY KEY (user_id, day)
);

DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
    PERFORM create_distributed_table('reports_inbox', 'user_id', colocate_with => 'users');
    PERFORM create_distributed_table('report_days', 'user_id', colocate_with => 'users');
  END IF;
END $$;
