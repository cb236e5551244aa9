import type { Prices } from '../../db/tables.js'

/**
 * Published list prices in USD per million tokens, by the model name the provider expects.
 * Versioned: `PRICE_TABLE_VERSION` changes with every edit and is recorded in docs/gateway.md
 * with the sources. A model missing here has no cost (null, never a guess) until its
 * definition or instance is given `prices`, which override this table field by field.
 *
 * Sources (as published by the providers in 2025, and for the models added on 2026-12-04 as
 * their pricing pages listed them in 2026): openai.com/api/pricing, anthropic.com/pricing,
 * ai.google.dev/gemini-api/docs/pricing, cohere.com/pricing. Every seeded definition has an
 * entry here (a test checks it), so that budgets can count every seeded model.
 */
export const PRICE_TABLE_VERSION = '2026-12-04'

export const PRICE_TABLE: Readonly<Record<string, Prices>> = {
  // OpenAI. GPT-5.5's rates hold for prompts up to 272K tokens; longer ones cost more, which
  // this table does not model (an instance's `prices` can).
  'gpt-5.5': { input: 5, cached_input: 0.5, output: 30 },
  'gpt-5.4': { input: 2.5, cached_input: 0.25, output: 15 },
  'gpt-5.4-mini': { input: 0.75, cached_input: 0.075, output: 4.5 },
  'gpt-5.4-nano': { input: 0.2, cached_input: 0.02, output: 1.25 },
  'gpt-5': { input: 1.25, cached_input: 0.125, output: 10 },
  'gpt-5-mini': { input: 0.25, cached_input: 0.025, output: 2 },
  'gpt-5-nano': { input: 0.05, cached_input: 0.005, output: 0.4 },
  'gpt-4.1': { input: 2, cached_input: 0.5, output: 8 },
  'gpt-4.1-mini': { input: 0.4, cached_input: 0.1, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, cached_input: 0.025, output: 0.4 },
  'gpt-4o': { input: 2.5, cached_input: 1.25, output: 10 },
  'gpt-4o-mini': { input: 0.15, cached_input: 0.075, output: 0.6 },
  o3: { input: 2, cached_input: 0.5, output: 8 },
  'o4-mini': { input: 1.1, cached_input: 0.275, output: 4.4 },
  'text-embedding-3-small': { input: 0.02 },
  'text-embedding-3-large': { input: 0.13 },
  'text-embedding-ada-002': { input: 0.1 },
  // Anthropic: cache reads at a tenth of the input price, 5-minute cache writes at 1.25×.
  'claude-opus-4-7': { input: 5, cached_input: 0.5, cache_write: 6.25, output: 25 },
  'claude-sonnet-4-6': { input: 3, cached_input: 0.3, cache_write: 3.75, output: 15 },
  'claude-opus-4-1': { input: 15, cached_input: 1.5, cache_write: 18.75, output: 75 },
  'claude-opus-4': { input: 15, cached_input: 1.5, cache_write: 18.75, output: 75 },
  'claude-sonnet-4-5': { input: 3, cached_input: 0.3, cache_write: 3.75, output: 15 },
  'claude-sonnet-4': { input: 3, cached_input: 0.3, cache_write: 3.75, output: 15 },
  'claude-3-7-sonnet': { input: 3, cached_input: 0.3, cache_write: 3.75, output: 15 },
  'claude-haiku-4-5': { input: 1, cached_input: 0.1, cache_write: 1.25, output: 5 },
  'claude-3-5-haiku': { input: 0.8, cached_input: 0.08, cache_write: 1, output: 4 },
  // Google (prompts up to 200k tokens for 2.5 Pro)
  'gemini-2.5-pro': { input: 1.25, cached_input: 0.31, output: 10 },
  'gemini-2.5-flash': { input: 0.3, cached_input: 0.075, output: 2.5 },
  'gemini-2.5-flash-lite': { input: 0.1, cached_input: 0.025, output: 0.4 },
  'gemini-embedding-001': { input: 0.15 },
  // Cohere
  'command-a-03-2025': { input: 2.5, output: 10 },
  'command-r-plus-08-2024': { input: 2.5, output: 10 },
  'command-r-08-2024': { input: 0.15, output: 0.6 },
  'embed-v4.0': { input: 0.12 },
  'embed-english-v3.0': { input: 0.1 },
  'embed-multilingual-v3.0': { input: 0.1 },
}
