-- The job queue and webhook deliveries. A job is a row: workers claim it with
-- FOR UPDATE SKIP LOCKED, hold it under a lease they renew, and move it to one of the end
-- states. The dead-letter queue is the set of jobs in state `dead` (with their whole error
-- history), so replaying one is an update, not a copy between tables.
-- migrate:up

create table jobs (
  id uuid primary key default gen_random_uuid(),
  owner_id bigint not null references users (id) on delete cascade,
  type text not null constraint jobs_type_length check (char_length(type) between 1 and 100),
  payload jsonb not null default '{}',
  -- pending: waits for its first attempt; running: a worker holds its lease; failed: an attempt
  -- failed and the next one waits for run_at; succeeded, dead (attempts used up: the
  -- dead-letter queue) and cancelled are final.
  state text not null default 'pending'
    constraint jobs_state check (state in ('pending', 'running', 'succeeded', 'failed', 'dead', 'cancelled')),
  -- Higher runs first.
  priority integer not null default 0 constraint jobs_priority check (priority between -1000 and 1000),
  run_at timestamptz not null default now(),
  attempts integer not null default 0,
  max_attempts integer not null default 5 constraint jobs_max_attempts check (max_attempts between 1 and 100),
  -- Enqueueing the same key twice (per owner) gives the same job.
  idempotency_key text constraint jobs_idempotency_key_length check (char_length(idempotency_key) between 1 and 200),
  -- Which claim holds the job: every write of a worker names it, so a worker whose lease
  -- expired cannot overwrite what the next holder does.
  lease_token uuid,
  locked_by text,
  lease_until timestamptz,
  progress_done bigint,
  progress_total bigint,
  -- What a handler saved to resume from after a failed attempt (e.g. items already done).
  checkpoint jsonb,
  result jsonb,
  -- One entry per failed attempt: {attempt, at, code, message}.
  errors jsonb not null default '[]',
  debug boolean not null default false,
  -- Steps a handler recorded while `debug` is on (bounded by the handler context).
  debug_log jsonb,
  webhook_url text constraint jobs_webhook_url_length check (char_length(webhook_url) <= 2000),
  -- Times the job was taken out of the dead-letter queue (or out of cancelled) and run again.
  replays integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz
);
create unique index jobs_owner_idempotency_key on jobs (owner_id, idempotency_key) where idempotency_key is not null;
-- The claim: ready jobs by priority, then by when they became due.
create index jobs_ready_idx on jobs (priority desc, run_at, id) where state in ('pending', 'failed');
-- The sweeper: leases that ran out.
create index jobs_lease_idx on jobs (lease_until) where state = 'running';
create index jobs_owner_created_idx on jobs (owner_id, created_at desc);
create index jobs_dead_idx on jobs (updated_at desc) where state = 'dead';
create index jobs_finished_idx on jobs (finished_at) where state in ('succeeded', 'cancelled');

create table webhook_endpoints (
  id uuid primary key default gen_random_uuid(),
  owner_id bigint not null references users (id) on delete cascade,
  url text not null constraint webhook_endpoints_url_length check (char_length(url) between 1 and 2000),
  description text constraint webhook_endpoints_description_length check (char_length(description) <= 2000),
  -- Job events sent to this endpoint for every job of the owner; a job that names the
  -- endpoint's URL as its webhook_url sends its events here even when the list is empty.
  events text[] not null default '{job.succeeded,job.failed,job.dead}',
  -- The signing secret (whsec_…), encrypted like provider keys.
  secret_ciphertext bytea not null,
  secret_key_id text not null,
  enabled boolean not null default true,
  disabled_at timestamptz,
  disabled_reason text,
  -- The first failed attempt since the last successful one (null while deliveries succeed).
  failing_since timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index webhook_endpoints_owner_idx on webhook_endpoints (owner_id, created_at);

create table webhook_deliveries (
  -- Sent as the webhook-id header: the same on every attempt, so receivers can deduplicate.
  id uuid primary key default gen_random_uuid(),
  endpoint_id uuid not null references webhook_endpoints (id) on delete cascade,
  owner_id bigint not null references users (id) on delete cascade,
  event text not null,
  job_id uuid references jobs (id) on delete set null,
  -- The exact bytes sent and signed.
  body text not null,
  state text not null default 'pending'
    constraint webhook_deliveries_state check (state in ('pending', 'retrying', 'succeeded', 'permanently_failed')),
  attempts integer not null default 0,
  last_status integer,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  delivered_at timestamptz
);
create index webhook_deliveries_endpoint_idx on webhook_deliveries (endpoint_id, created_at desc);
create index webhook_deliveries_owner_idx on webhook_deliveries (owner_id, created_at desc);
create index webhook_deliveries_job_idx on webhook_deliveries (job_id);

-- One row per HTTP try of a delivery.
create table webhook_attempts (
  id bigint generated always as identity primary key,
  delivery_id uuid not null references webhook_deliveries (id) on delete cascade,
  attempt integer not null,
  started_at timestamptz not null,
  duration_ms double precision not null,
  status integer,
  error text,
  response_excerpt text
);
create index webhook_attempts_delivery_idx on webhook_attempts (delivery_id, attempt);

-- migrate:down
drop table webhook_attempts;
drop table webhook_deliveries;
drop table webhook_endpoints;
drop table jobs;
