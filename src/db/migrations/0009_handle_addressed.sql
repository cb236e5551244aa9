-- Shares and project transfers addressed by handle. Their answers must not tell a user whether
-- another user exists, so a share to a handle nobody has is kept as a pending share (listed to
-- the owner like any other, granting nothing), and a transfer is an offer that the receiver
-- accepts (the owner learns nothing, and nobody receives a project without consent).
-- migrate:up
create table pending_shares (
  resource text not null constraint pending_shares_resource check (resource in ('project', 'instance', 'definition')),
  resource_id bigint not null,
  handle text not null,
  role text constraint pending_shares_role check (role in ('reader', 'editor')),
  created_at timestamptz not null default now(),
  primary key (resource, resource_id, handle)
);
-- A new user's handle clears the shares that waited under it (they never take effect).
create index pending_shares_handle_idx on pending_shares (handle);

create table project_transfer_offers (
  project_id bigint primary key references projects (id) on delete cascade,
  to_handle text not null,
  offered_by text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create index project_transfer_offers_to_idx on project_transfer_offers (to_handle);

-- migrate:down
drop table project_transfer_offers;
drop table pending_shares;
