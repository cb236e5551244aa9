import { performance } from 'node:perf_hooks'
import { type Static, Type } from 'typebox'
import type { Executor } from '../db/database.js'
import type { UserRow } from '../db/tables.js'
import type { GatewayDeps } from '../gateway/deps.js'
import { embedForStore } from '../gateway/embeddings.js'
import { jobCallContext } from '../gateway/job-call.js'
import { AppError } from '../http/errors.js'
import type { Caller } from '../identity/caller.js'
import { normalizeHandle } from '../identity/handles.js'
import { loadOwner, ownerCaller, recheckAccess } from '../jobs/run-as.js'
import { type ClaimedJob, type JobType, PermanentJobError } from '../jobs/types.js'
import { getVisibleProject, requireProjectRole } from '../projects/service.js'
import type { VectorEngine } from '../vectors/engine.js'
import type { Embedder } from './computed.js'
import { writeUpload } from './computed.js'
import { type EmbeddingsContext, WRITERS, type WritableProject } from './service.js'

/**
 * `embed`: computes the vectors of many texts with a project's instance and stores them, as
 * `POST /v1/embeddings/{user}/{project}` does for records sent with text and no vector, but in
 * the background and in batches, each one written (upserted) before the next is embedded.
 * docs/jobs.md#embed has the payload, the limits and what a retry does.
 */

/** Items per job: 100,000 texts of 300 characters make about 30 MB, near the 32 MiB body limit. */
export const MAX_EMBED_ITEMS = 100_000
/** Characters per text; far above any embedding model's input limit, which the provider enforces. */
const MAX_TEXT_CHARACTERS = 100_000
/**
 * A batch is what is embedded and written at once, and the unit a retry resumes from. 256
 * texts fill OpenAI's requests far below its limit of 2,048 inputs and are split by the
 * gateway into calls of 96 (Cohere) or 100 (Gemini) run side by side; 400,000 characters
 * (about 100,000 tokens) keep one batch under OpenAI's 300,000 tokens per request.
 */
const BATCH_TEXTS = 256
const BATCH_CHARACTERS = 400_000

const ProjectRef = Type.String({
  pattern: '^([A-Za-z0-9][A-Za-z0-9._-]{2,19}/)?[A-Za-z0-9][A-Za-z0-9._-]{2,39}$',
  'x-error': 'must be "<owner>/<project>", or the handle of a project of the job\'s owner',
  description: 'The project to store the vectors in; the job\'s owner must be allowed to write it',
})

const EmbedItem = Type.Object(
  {
    text_id: Type.String({ minLength: 1, maxLength: 1000, description: 'Identifier of the text; an existing record with it is replaced' }),
    text: Type.String({ minLength: 1, maxLength: MAX_TEXT_CHARACTERS, description: 'The text to embed, stored with the vector' }),
    metadata: Type.Optional(Type.Unknown({ description: 'As in an upload: merged into stored metadata, checked against the project\'s schema' })),
  },
  { additionalProperties: false },
)

export const EmbedPayload = Type.Object(
  {
    project: ProjectRef,
    items: Type.Array(EmbedItem, { minItems: 1, maxItems: MAX_EMBED_ITEMS }),
  },
  { additionalProperties: false },
)
export type EmbedPayload = Static<typeof EmbedPayload>

export interface EmbedResult {
  embedded: number
  project: string
  instance: string
}

/** `alice/docs`, or `docs` for a project of the job's owner. */
function parseProjectRef(ref: string, ownerHandle: string) {
  const slash = ref.indexOf('/')
  return slash < 0 ? { owner: ownerHandle, handle: normalizeHandle(ref) } : { owner: normalizeHandle(ref.slice(0, slash)), handle: normalizeHandle(ref.slice(slash + 1)) }
}

/** The project the job writes, if the caller may write it and it is bound to an instance. */
async function findWritableProject(db: Executor, caller: Caller, ref: { owner: string; handle: string }): Promise<WritableProject> {
  const { project, role } = await getVisibleProject({ db, caller }, ref.owner, ref.handle)
  requireProjectRole(role, WRITERS, project, 'write its embeddings')
  if (project.instance_id === null || project.dimensions === null) {
    throw new AppError('invalid_job', `project ${project.owner}/${project.handle} is bound to no instance: bind an embedding instance to it before embedding texts into it`)
  }
  return project as WritableProject
}

/** What the embed job's handler uses. */
export interface EmbedJobDeps {
  db: Executor
  gateway: GatewayDeps
  engine: VectorEngine | null
}

/** What an attempt saves after each batch: how many items, in payload order, are stored. */
interface EmbedCheckpoint {
  done: number
}

function resumeFrom(checkpoint: unknown, total: number): number {
  const done = (checkpoint as Partial<EmbedCheckpoint> | null)?.done
  return typeof done === 'number' && Number.isInteger(done) && done >= 0 && done <= total ? done : 0
}

/** The end (exclusive) of the batch that starts at `start`: at most BATCH_TEXTS texts and BATCH_CHARACTERS characters, at least one text. */
function batchEnd(items: EmbedPayload['items'], start: number): number {
  let end = start
  let characters = 0
  while (end < items.length && end - start < BATCH_TEXTS) {
    characters += (items[end] as { text: string }).text.length
    if (end > start && characters > BATCH_CHARACTERS) break
    end++
  }
  return end
}

export const embedJob: JobType<EmbedJobDeps> = {
  type: 'embed',
  payload: EmbedPayload,
  submission: {
    async check(db: Executor, owner: UserRow, _caller: Caller, payload: unknown) {
      const { project, items } = payload as EmbedPayload
      // The owner's rights, not the submitter's: an admin may submit for a user, but the job
      // runs as that user.
      await findWritableProject(db, ownerCaller(owner), parseProjectRef(project, owner.handle))
      return { total: items.length }
    },
  },
  handler: (deps) => ({
    type: 'embed',
    payload: EmbedPayload,
    async run(job: ClaimedJob<EmbedPayload>, context) {
      const { payload } = job
      const engine = deps.engine
      if (!engine) throw new PermanentJobError('vector features are unavailable on this server: its database has no vector support', 'capability_unavailable')
      const owner = await loadOwner(deps.db, job)
      const caller = ownerCaller(owner)
      const project = await recheckAccess(`writing project ${payload.project} as ${owner.handle}`, () =>
        findWritableProject(deps.db, caller, parseProjectRef(payload.project, owner.handle)),
      )
      const store: EmbeddingsContext = { db: deps.db, caller, engine }
      const call = jobCallContext(job, caller)
      const embed: Embedder = (instanceId, texts) => embedForStore(deps.gateway, call, instanceId, texts, context.signal)
      const items = payload.items
      const total = items.length
      let done = resumeFrom(job.checkpoint, total)
      if (done > 0) context.debug('resuming from the checkpoint', { done, total })
      while (done < total) {
        context.signal.throwIfAborted()
        const end = batchEnd(items, done)
        const batch = items.slice(done, end)
        const started = performance.now()
        try {
          // The same path as an upload of records with text and no vector: checked, embedded
          // (a text repeated in the batch once), then upserted in one transaction.
          await writeUpload(store, project, batch, embed, 'payload.items')
        } catch (error) {
          if (error instanceof AppError) throw new AppError(error.code, `items ${done}–${end - 1}: ${error.message}`, { cause: error, headers: error.headers ?? {} })
          throw error
        }
        context.debug('batch stored', {
          from: done,
          texts: batch.length,
          characters: batch.reduce((sum, item) => sum + item.text.length, 0),
          ms: Math.round(performance.now() - started),
        })
        done = end
        await context.progress(done, total, { done } satisfies EmbedCheckpoint)
      }
      return {
        embedded: total,
        project: `${project.owner}/${project.handle}`,
        instance: `${project.instance_owner}/${project.instance_handle}`,
      } satisfies EmbedResult
    },
  }),
}
