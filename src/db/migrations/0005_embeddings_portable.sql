-- requires: no vector
-- instead of: 0004
-- Embeddings on a PostgreSQL server without pgvector, searched by the native engine
-- (src/vectors/native). `vector` is a domain over bytea holding pgvector's binary format
-- (int16 dimensions, int16 zero, float4 × dimensions, big-endian), and `vector_send` returns
-- those bytes, as pgvector's own function does: every statement that stores or reads vectors
-- is the same on both kinds of storage. Only pgvector's operators are missing, and only the
-- pgvector engine uses them. A server that gains pgvector later keeps this storage (the type
-- name is taken), so its projects stay with the native engine; docs/scaling.md says how to move.
-- migrate:up
create domain vector as bytea constraint vector_header check (octet_length(value) >= 8 and (octet_length(value) - 4) % 4 = 0);
create function vector_send(value vector) returns bytea language sql immutable strict parallel safe as 'select value::bytea';

create table embeddings (
  id bigint generated always as identity primary key,
  project_id bigint not null references projects (id) on delete cascade,
  text_id text collate "C" not null constraint embeddings_text_id_length check (char_length(text_id) between 1 and 1000),
  text text,
  vector vector not null,
  dimensions integer not null constraint embeddings_dimensions check (dimensions between 1 and 16000),
  metadata jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index embeddings_project_text_id_key on embeddings (project_id, text_id);
alter table embeddings alter column vector set storage external;

create table vector_indexes (
  project_id bigint primary key references projects (id) on delete cascade,
  index_name text not null,
  dimensions integer not null,
  state text not null constraint vector_indexes_state check (state in ('building', 'ready', 'failed')),
  rows_at_build bigint not null default 0,
  error text,
  started_at timestamptz not null default now(),
  finished_at timestamptz
);

-- migrate:down
drop table vector_indexes;
drop table embeddings;
drop function vector_send(vector);
drop domain vector;
