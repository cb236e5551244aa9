-- Projects: collections of embeddings bound to one instance (whose dimensions they use),
-- with an optional JSON Schema for metadata, public reading, and sharing.
-- migrate:up
create table projects (
  id bigint generated always as identity primary key,
  owner_id bigint not null references users (id) on delete cascade,
  handle text not null constraint projects_handle_format check (handle ~ '^[a-z0-9][a-z0-9._-]{2,39}$'),
  description text constraint projects_description_length check (char_length(description) <= 2000),
  -- Deleting an instance directly is refused while projects use it (409, naming them); when
  -- its owner is deleted, the projects lose the binding but keep their embeddings.
  instance_id bigint references llm_instances (id) on delete set null,
  metadata_schema jsonb,
  public_read boolean not null default false,
  -- Kept in step by every write of embeddings, so reading a project costs no count.
  embedding_count bigint not null default 0,
  embeddings_updated_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index projects_owner_handle_key on projects (owner_id, handle);
create index projects_instance_idx on projects (instance_id);

create table project_shares (
  project_id bigint not null references projects (id) on delete cascade,
  user_id bigint not null references users (id) on delete cascade,
  role text not null constraint project_shares_role check (role in ('reader', 'editor')),
  created_at timestamptz not null default now(),
  primary key (project_id, user_id)
);
create index project_shares_user_idx on project_shares (user_id);

-- migrate:down
drop table project_shares;
drop table projects;
