-- Abuse limits shared by every web process: login attempts per account and per client address,
-- registrations per address, and (when configured) customer messages per company.
--
-- One row per limited subject holds its GCRA "theoretical arrival time" (`tat`): a subject may act
-- at `now` when max(tat, now) + emission interval still lies within the burst period of `now`.
-- One upsert both decides and records (db::throttle::take). Keys are SHA-256 digests of
-- "<rule>:<subject>", so the table holds no email or IP address. A row whose `tat` has passed
-- says nothing a missing row would not; maintenance deletes those.
--
-- Platform data, not a tenant's: login is throttled before any tenant is known.
CREATE TABLE throttle (
    key bytea PRIMARY KEY,
    tat timestamptz NOT NULL
);
