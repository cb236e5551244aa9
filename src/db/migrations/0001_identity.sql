-- Users and their API keys. `_system` owns the global definitions; nobody can log in as it.
-- migrate:up
create table users (
  id bigint generated always as identity primary key,
  -- Handles are stored lower-case; the API folds them, which makes them case-insensitive.
  handle text not null constraint users_handle_format check (handle ~ '^(_system|[a-z0-9][a-z0-9._-]{2,19})$'),
  name text constraint users_name_length check (char_length(name) <= 100),
  email text not null constraint users_email_length check (char_length(email) <= 254),
  role text not null default 'user' constraint users_role check (role in ('user', 'admin')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index users_handle_key on users (handle);
create unique index users_email_key on users (lower(email));

insert into users (handle, name, email) values ('_system', 'System', 'system@llmbase.invalid');

create table api_keys (
  id uuid primary key default gen_random_uuid(),
  user_id bigint not null references users (id) on delete cascade,
  prefix text not null,
  -- SHA-256 of the key. Keys carry 256 random bits, so a fast unsalted hash is safe here and
  -- lets a request find its key with one index lookup.
  hash bytea not null,
  label text constraint api_keys_label_length check (char_length(label) <= 100),
  created_at timestamptz not null default now(),
  expires_at timestamptz,
  last_used_at timestamptz,
  revoked_at timestamptz
);
create unique index api_keys_hash_key on api_keys (hash);
create index api_keys_user_id_idx on api_keys (user_id);

-- migrate:down
drop table api_keys;
drop table users;
