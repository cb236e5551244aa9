-- The gateway: routes (named lists of instances with weights and a fallback order), the
-- accounting of every client call and every upstream attempt, the shared level of the
-- response cache, and limits and budgets with their counters.
-- migrate:up

-- Per-instance gateway settings: how long answers may be cached (null: never), and prices
-- that override the price table in the repository (USD per million tokens).
alter table llm_instances
  add column cache_ttl_seconds integer constraint llm_instances_cache_ttl check (cache_ttl_seconds between 1 and 2592000),
  add column prices jsonb;
alter table llm_definitions add column prices jsonb;

create table llm_routes (
  id bigint generated always as identity primary key,
  owner_id bigint not null references users (id) on delete cascade,
  handle text not null constraint llm_routes_handle_format check (handle ~ '^[a-z0-9][a-z0-9._-]{2,39}$'),
  description text constraint llm_routes_description_length check (char_length(description) <= 2000),
  -- fallback: targets in order, the next one when one fails; weighted: the first choice is
  -- drawn by weight, the others follow in order as fallbacks.
  strategy text not null default 'fallback' constraint llm_routes_strategy check (strategy in ('fallback', 'weighted')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index llm_routes_owner_handle_key on llm_routes (owner_id, handle);

create table llm_route_targets (
  route_id bigint not null references llm_routes (id) on delete cascade,
  position integer not null,
  -- An instance that is deleted leaves the routes that named it.
  instance_id bigint not null references llm_instances (id) on delete cascade,
  weight integer not null default 1 constraint llm_route_targets_weight check (weight between 1 and 1000),
  primary key (route_id, position)
);
create index llm_route_targets_instance_idx on llm_route_targets (instance_id);

-- One row per client call. Written in batches after the answer, never on the request path.
create table llm_requests (
  id uuid primary key,
  -- The x-request-id of the call, for finding it in the server's log.
  request_id text not null,
  user_id bigint not null references users (id) on delete cascade,
  api_key_id uuid,
  operation text not null constraint llm_requests_operation check (operation in ('chat', 'messages', 'embeddings')),
  -- The model as the client named it (an instance or a route), and the instance that answered.
  model text not null,
  route_id bigint references llm_routes (id) on delete set null,
  instance_id bigint references llm_instances (id) on delete set null,
  stream boolean not null default false,
  status integer not null,
  error_code text,
  error_message text,
  cache text not null default 'off' constraint llm_requests_cache check (cache in ('off', 'miss', 'hit', 'bypass')),
  attempts integer not null default 0,
  prompt_tokens bigint,
  completion_tokens bigint,
  cached_tokens bigint,
  total_tokens bigint,
  -- Tokens as the provider reported them (null when it reported none); cost null when a
  -- price is unknown: never a guess.
  cost_usd numeric(20, 10),
  latency_ms double precision not null,
  ttft_ms double precision,
  created_at timestamptz not null
);
create index llm_requests_user_created_idx on llm_requests (user_id, created_at desc);
create index llm_requests_instance_created_idx on llm_requests (instance_id, created_at desc);

-- One row per upstream attempt, failed ones included.
create table llm_responses (
  id bigint generated always as identity primary key,
  llm_request_id uuid not null references llm_requests (id) on delete cascade,
  attempt integer not null,
  instance_id bigint references llm_instances (id) on delete set null,
  provider text not null,
  model text not null,
  status integer,
  error_code text,
  error_message text,
  latency_ms double precision not null,
  ttft_ms double precision,
  prompt_tokens bigint,
  completion_tokens bigint,
  cached_tokens bigint,
  cost_usd numeric(20, 10),
  created_at timestamptz not null
);
create index llm_responses_request_idx on llm_responses (llm_request_id);
create index llm_responses_instance_created_idx on llm_responses (instance_id, created_at desc);

-- The second level of the response cache, shared by every process on the database.
create table gateway_cache_entries (
  key text primary key,
  user_id bigint not null references users (id) on delete cascade,
  instance_id bigint not null references llm_instances (id) on delete cascade,
  response jsonb not null,
  bytes integer not null,
  hits bigint not null default 0,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create index gateway_cache_entries_expires_idx on gateway_cache_entries (expires_at);
create index gateway_cache_entries_instance_idx on gateway_cache_entries (instance_id);

-- Limits per user (api_key_id null) or per API key; a null field is no limit.
create table gateway_limits (
  id bigint generated always as identity primary key,
  user_id bigint not null references users (id) on delete cascade,
  api_key_id uuid references api_keys (id) on delete cascade,
  requests_per_minute integer constraint gateway_limits_rpm check (requests_per_minute >= 0),
  tokens_per_minute bigint constraint gateway_limits_tpm check (tokens_per_minute >= 0),
  concurrent_requests integer constraint gateway_limits_concurrent check (concurrent_requests >= 0),
  usd_per_day numeric(20, 6) constraint gateway_limits_usd_day check (usd_per_day >= 0),
  usd_per_month numeric(20, 6) constraint gateway_limits_usd_month check (usd_per_month >= 0),
  updated_at timestamptz not null default now()
);
create unique index gateway_limits_user_key on gateway_limits (user_id) where api_key_id is null;
create unique index gateway_limits_api_key_key on gateway_limits (api_key_id) where api_key_id is not null;

-- Counters per scope and window: `scope` is `u:<user id>` or `k:<key id>`; windows are one
-- minute (requests, tokens), one UTC day and one UTC month (spend).
create table gateway_counters (
  scope text not null,
  window_kind text not null constraint gateway_counters_window check (window_kind in ('minute', 'day', 'month')),
  window_start timestamptz not null,
  requests bigint not null default 0,
  tokens bigint not null default 0,
  usd numeric(20, 10) not null default 0,
  primary key (scope, window_kind, window_start)
);

-- Requests in flight, for concurrency limits that hold across processes. A process that dies
-- leaves its rows behind; they stop counting once `expires_at` (the total timeout) passes.
create table gateway_inflight (
  scope text not null,
  id uuid not null,
  expires_at timestamptz not null,
  primary key (scope, id)
);

-- migrate:down
drop table gateway_inflight;
drop table gateway_counters;
drop table gateway_limits;
drop table gateway_cache_entries;
drop table llm_responses;
drop table llm_requests;
drop table llm_route_targets;
drop table llm_routes;
alter table llm_definitions drop column prices;
alter table llm_instances drop column prices, drop column cache_ttl_seconds;
