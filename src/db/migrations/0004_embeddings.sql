-- requires: vector
-- Embeddings. Vectors are pgvector `vector` (float32, read back exactly) of any length up to
-- 16,000; a project's rows all have its instance's dimensions. Search indexes are partial
-- HNSW indexes per project, made by the vector engine once a project is large enough
-- (src/vectors/pgvector/indexes.ts); their state is kept in vector_indexes.
-- migrate:up
create table embeddings (
  id bigint generated always as identity primary key,
  project_id bigint not null references projects (id) on delete cascade,
  -- Compared byte by byte ("C"): ids are identifiers, and listing order must not depend on the server.
  text_id text collate "C" not null constraint embeddings_text_id_length check (char_length(text_id) between 1 and 1000),
  text text,
  vector vector not null,
  dimensions integer not null constraint embeddings_dimensions check (dimensions between 1 and 16000),
  metadata jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index embeddings_project_text_id_key on embeddings (project_id, text_id);
-- Floats do not compress: long vectors go out of line as they are, without a futile attempt.
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
