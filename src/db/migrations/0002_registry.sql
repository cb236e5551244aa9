-- The registry of LLM services: API standards (how a provider takes its key), definitions
-- (reusable model templates; the global ones belong to _system) and instances (a user's
-- configuration of a model, holding the provider key encrypted), with sharing.
-- migrate:up
create table api_standards (
  handle text primary key constraint api_standards_handle_format check (handle ~ '^[a-z0-9][a-z0-9._-]{2,39}$'),
  description text not null default '',
  documentation_url text,
  -- none: the provider takes no key (a local Ollama).
  key_method text not null constraint api_standards_key_method check (key_method in ('auth_bearer', 'custom_header', 'query_param', 'body_form', 'none')),
  key_field text constraint api_standards_key_field_length check (char_length(key_field) <= 100),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table llm_definitions (
  id bigint generated always as identity primary key,
  owner_id bigint not null references users (id) on delete cascade,
  handle text not null constraint llm_definitions_handle_format check (handle ~ '^[a-z0-9][a-z0-9._-]{2,39}$'),
  kind text not null default 'embedding' constraint llm_definitions_kind check (kind in ('embedding', 'chat')),
  api_standard text not null references api_standards (handle) on update cascade,
  endpoint text not null,
  model text not null,
  -- Embedding models have dimensions (1 to 16,000); chat models have none.
  dimensions integer constraint llm_definitions_dimensions check (
    (kind = 'embedding' and dimensions between 1 and 16000) or (kind = 'chat' and dimensions is null)),
  context_limit integer constraint llm_definitions_context_limit check (context_limit >= 0),
  description text,
  is_public boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index llm_definitions_owner_handle_key on llm_definitions (owner_id, handle);
create index llm_definitions_public_idx on llm_definitions (id) where is_public;
create index llm_definitions_api_standard_idx on llm_definitions (api_standard);

create table llm_definition_shares (
  definition_id bigint not null references llm_definitions (id) on delete cascade,
  user_id bigint not null references users (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (definition_id, user_id)
);
create index llm_definition_shares_user_idx on llm_definition_shares (user_id);

create table llm_instances (
  id bigint generated always as identity primary key,
  owner_id bigint not null references users (id) on delete cascade,
  handle text not null constraint llm_instances_handle_format check (handle ~ '^[a-z0-9][a-z0-9._-]{2,39}$'),
  definition_id bigint references llm_definitions (id) on delete set null,
  kind text not null default 'embedding' constraint llm_instances_kind check (kind in ('embedding', 'chat')),
  api_standard text not null references api_standards (handle) on update cascade,
  endpoint text not null,
  model text not null,
  dimensions integer constraint llm_instances_dimensions check (
    (kind = 'embedding' and dimensions between 1 and 16000) or (kind = 'chat' and dimensions is null)),
  context_limit integer constraint llm_instances_context_limit check (context_limit >= 0),
  description text,
  -- The provider key: AES-256-GCM ciphertext and the id of the key that encrypted it.
  api_key_ciphertext bytea,
  api_key_key_id text,
  -- Only ever filled by an import from another system, and emptied by
  -- `llmbase keys import-plaintext`; the server never reads it.
  api_key_plaintext text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint llm_instances_key_pair check ((api_key_ciphertext is null) = (api_key_key_id is null))
);
create unique index llm_instances_owner_handle_key on llm_instances (owner_id, handle);
create index llm_instances_definition_idx on llm_instances (definition_id);
create index llm_instances_api_standard_idx on llm_instances (api_standard);

create table llm_instance_shares (
  instance_id bigint not null references llm_instances (id) on delete cascade,
  user_id bigint not null references users (id) on delete cascade,
  role text not null constraint llm_instance_shares_role check (role in ('reader', 'editor')),
  created_at timestamptz not null default now(),
  primary key (instance_id, user_id)
);
create index llm_instance_shares_user_idx on llm_instance_shares (user_id);

insert into api_standards (handle, description, documentation_url, key_method, key_field) values
  ('openai', 'OpenAI API and OpenAI-compatible servers (vLLM, OpenRouter, LM Studio …)', 'https://platform.openai.com/docs/api-reference', 'auth_bearer', 'Authorization'),
  ('cohere', 'Cohere API v2', 'https://docs.cohere.com/reference/about', 'auth_bearer', 'Authorization'),
  ('gemini', 'Google Gemini API', 'https://ai.google.dev/api', 'custom_header', 'x-goog-api-key'),
  ('anthropic', 'Anthropic Messages API', 'https://docs.anthropic.com/en/api/overview', 'custom_header', 'x-api-key'),
  ('ollama', 'Ollama, usually on the local network; takes no key', 'https://github.com/ollama/ollama/blob/main/docs/api.md', 'none', null);

-- Global definitions, public to every user. Context limits are the providers' published
-- input limits, where they publish one.
insert into llm_definitions (owner_id, handle, kind, api_standard, endpoint, model, dimensions, context_limit, description, is_public)
select u.id, d.handle, d.kind, d.api_standard, d.endpoint, d.model, d.dimensions, d.context_limit, d.description, true
from users u, (values
  ('openai-large', 'embedding', 'openai', 'https://api.openai.com/v1/embeddings', 'text-embedding-3-large', 3072, 8191, 'OpenAI text-embedding-3-large'),
  ('openai-small', 'embedding', 'openai', 'https://api.openai.com/v1/embeddings', 'text-embedding-3-small', 1536, 8191, 'OpenAI text-embedding-3-small'),
  ('cohere-v4', 'embedding', 'cohere', 'https://api.cohere.com/v2/embed', 'embed-v4.0', 1536, 128000, 'Cohere Embed v4'),
  ('cohere-multilingual-v3', 'embedding', 'cohere', 'https://api.cohere.com/v2/embed', 'embed-multilingual-v3.0', 1024, 512, 'Cohere Embed multilingual v3'),
  ('gemini-embedding-001', 'embedding', 'gemini', 'https://generativelanguage.googleapis.com/v1beta/models/gemini-embedding-001:embedContent', 'gemini-embedding-001', 3072, 2048, 'Google Gemini embedding 001'),
  ('gpt-5.5', 'chat', 'openai', 'https://api.openai.com/v1/chat/completions', 'gpt-5.5', null, null, 'OpenAI GPT-5.5'),
  ('gpt-5.4-mini', 'chat', 'openai', 'https://api.openai.com/v1/chat/completions', 'gpt-5.4-mini', null, null, 'OpenAI GPT-5.4 mini'),
  ('claude-opus-4-7', 'chat', 'anthropic', 'https://api.anthropic.com/v1/messages', 'claude-opus-4-7', null, 1000000, 'Anthropic Claude Opus 4.7'),
  ('claude-sonnet-4-6', 'chat', 'anthropic', 'https://api.anthropic.com/v1/messages', 'claude-sonnet-4-6', null, 1000000, 'Anthropic Claude Sonnet 4.6'),
  ('claude-haiku-4-5', 'chat', 'anthropic', 'https://api.anthropic.com/v1/messages', 'claude-haiku-4-5', null, 200000, 'Anthropic Claude Haiku 4.5'),
  ('gemini-2.5-pro', 'chat', 'gemini', 'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent', 'gemini-2.5-pro', null, 1048576, 'Google Gemini 2.5 Pro'),
  ('gemini-2.5-flash', 'chat', 'gemini', 'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent', 'gemini-2.5-flash', null, 1048576, 'Google Gemini 2.5 Flash')
) as d (handle, kind, api_standard, endpoint, model, dimensions, context_limit, description)
where u.handle = '_system';

-- migrate:down
drop table llm_instance_shares;
drop table llm_instances;
drop table llm_definition_shares;
drop table llm_definitions;
drop table api_standards;
