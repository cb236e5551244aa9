-- Change tracking for engines that keep a derived index outside the database (the native
-- engine): each write to a project's embeddings takes the next `vector_seq` of the project,
-- under the project row's lock, so numbers are handed out in commit order; written rows carry
-- it in `change_seq`, deleted rows leave it in `embedding_deletions`, and emptying a project
-- sets `vectors_cleared_seq`. A process brings its index up to date by reading what is newer
-- than the number it has seen (src/vectors/native/changes.ts).
-- migrate:up
alter table projects
  add column vector_seq bigint not null default 0,
  add column vectors_cleared_seq bigint not null default 0;
alter table embeddings add column change_seq bigint not null default 0;
create index embeddings_project_change_seq on embeddings (project_id, change_seq);
create table embedding_deletions (
  project_id bigint not null references projects (id) on delete cascade,
  change_seq bigint not null,
  embedding_id bigint not null,
  primary key (project_id, change_seq, embedding_id)
);

-- migrate:down
drop table embedding_deletions;
drop index embeddings_project_change_seq;
alter table embeddings drop column change_seq;
alter table projects drop column vector_seq, drop column vectors_cleared_seq;
