import { mkdir, readdir, rename, rm } from 'node:fs/promises'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { sql } from 'kysely'
import type { Logger } from 'pino'
import type { VectorSettings } from '../../config.js'
import type { Database } from '../../db/database.js'
import { decodeVectorInto } from '../codec.js'
import type { IndexStatus, SearchHit, SearchProject, SearchRequest, VectorEngine } from '../engine.js'
import { projectWhere, searchConditions } from '../filter-sql.js'
import type { BuildRequest, BuildResult } from './build-worker.js'
import { CANDIDATES_PER_RESULT, normalized } from './normalize.js'
import { type ChangedRow, type ProjectHead, readChanges, readHead, readPage } from './changes.js'
import { checkIndexFile, fileCrc, indexFile, loadStore, removeSnapshot, saveStore, snapshotDir } from './snapshot.js'
import { VectorStore } from './store.js'
import type { Usearch } from './usearch.js'

type UsearchIndex = InstanceType<Usearch['Index']>

export interface NativeOptions extends VectorSettings {
  /** Where snapshots are saved: `<data folder>/vector-index`. */
  directory: string
}

/** Rows per page when a project is read from the database whole. */
const LOAD_PAGE_ROWS = 5000
/** A catch-up that brings more rows than this (or a tenth of the project) rebuilds the index instead of growing it row by row on the main thread. */
const INCREMENTAL_MAX_ROWS = 5000

/** One project as this process holds it. */
interface ProjectState {
  id: number
  createdAt: string
  dimensions: number
  /** The project's change number that `store` (and `index`) reflect. */
  seq: number
  store: VectorStore
  index: UsearchIndex | null
  /** Rows in the index when it was built, and ids replaced or removed since (usearch keeps their nodes). */
  indexRows: number
  indexChurn: number
  /** Set while a build runs: ids changed meanwhile, applied to the new index when it arrives. */
  touchedDuringBuild: Set<number> | null
  building: Promise<void> | null
  buildTimer: NodeJS.Timeout | null
  buildError: string | null
  /** A write of this process committed since the last catch-up. */
  dirty: boolean
  syncing: Promise<void> | null
  /** Changes not yet in the saved snapshot. */
  unsaved: boolean
  saveTimer: NodeJS.Timeout | null
  saving: Promise<void> | null
  /** When a search last used the project (for unloading the least recently used). */
  lastUsed: number
}

interface Candidate {
  row: number
  distance: number
}

/**
 * Similarity search in the server's own memory: each project's vectors are held in a packed
 * array (searched exactly with usearch's SIMD kernels while the project is small, and for
 * selective filters), and large projects get a usearch HNSW index built in a worker thread.
 * PostgreSQL stays the only source of truth: the engine follows it through the change
 * numbers of migration 0006, reading only what changed since the number it holds.
 *
 * - Read your writes: a write marks its project; the next search first reads the changes. On
 *   a PostgreSQL server, where other processes may write, every search asks the project's
 *   change number first (one indexed lookup).
 * - Restarts: snapshots in the data folder (see snapshot.ts) are loaded and brought up to
 *   date; a missing or damaged one is rebuilt from the database.
 * - Filters are SQL over the rows (the same as the pgvector engine's): a filter that leaves
 *   few rows is searched exactly over those rows; otherwise the index is asked for more
 *   neighbours than needed and the filter is applied to them, asking for more until enough
 *   pass.
 */
export class NativeEngine implements VectorEngine {
  readonly name = 'native'
  readonly description: string
  private readonly projects = new Map<number, ProjectState>()
  private readonly loading = new Map<number, Promise<ProjectState>>()
  private readonly workers = new Set<Worker>()
  private closed = false

  constructor(
    private readonly database: Database,
    private readonly usearch: Usearch,
    version: string,
    private readonly options: NativeOptions,
    private readonly logger: Logger,
  ) {
    this.description = `native (usearch ${version})`
  }

  /** Removes snapshots of projects that no longer exist (deleting a user removes projects without passing here). */
  async start(): Promise<void> {
    await mkdir(this.options.directory, { recursive: true })
    const saved = (await readdir(this.options.directory)).filter((name) => /^p\d+$/.test(name)).map((name) => Number(name.slice(1)))
    if (saved.length === 0) return
    const live = new Set((await this.database.db.selectFrom('projects').select('id').where('id', 'in', saved).execute()).map((row) => Number(row.id)))
    for (const id of saved) if (!live.has(id)) await removeSnapshot(snapshotDir(this.options.directory, id))
  }

  async search(request: SearchRequest): Promise<SearchHit[]> {
    const state = await this.current(request.project)
    const query = Float32Array.from(request.vector)
    const conditions = searchConditions({ ...request, excludeTextId: undefined })
    const wanted = request.limit + request.offset + (request.excludeTextId !== undefined ? 1 : 0)
    let candidates: Candidate[]
    if (conditions.length === 0) {
      candidates = this.nearest(state, query, wanted)
    } else {
      candidates = await this.nearestMatching(state, query, wanted, projectWhere(state.id, conditions))
    }
    const hits = candidates
      .filter((c) => state.store.textIds[c.row] !== request.excludeTextId)
      .map((c) => ({ row: c.row, id: state.store.ids[c.row] as number, textId: state.store.textIds[c.row] as string, similarity: similarity(query, state.store.vector(c.row)) }))
      .sort((a, b) => b.similarity - a.similarity || (a.textId < b.textId ? -1 : 1))
      .slice(request.offset, request.offset + request.limit)
      .filter((hit) => hit.similarity >= request.threshold)
    const details = request.include.text || request.include.metadata ? await this.details(hits.map((h) => h.id)) : null
    return hits.map((hit) => ({
      id: hit.textId,
      similarity: hit.similarity,
      ...(request.include.text ? { text: details?.get(hit.id)?.text ?? null } : {}),
      ...(request.include.metadata ? { metadata: details?.get(hit.id)?.metadata ?? null } : {}),
    }))
  }

  /** The `count` nearest rows of the whole project. */
  private nearest(state: ProjectState, query: Float32Array, count: number): Candidate[] {
    const { store } = state
    if (store.count === 0 || count === 0) return []
    if (state.index && store.count > this.options.exactSearchMaxRows) {
      const matches = state.index.search(normalized(query), Math.min(count * CANDIDATES_PER_RESULT, store.count), 1)
      const candidates: Candidate[] = []
      for (let i = 0; i < matches.keys.length; i++) {
        const row = store.row(Number(matches.keys[i]))
        if (row !== undefined) candidates.push({ row, distance: matches.distances[i] as number })
      }
      return candidates
    }
    // One thread: by default usearch starts a pool per call, which cost more than the scan
    // itself on small projects (0.28 ms at 1,000 × 384).
    const matches = this.usearch.exactSearch(store.packed(), query, store.dimensions, Math.min(count, store.count), this.usearch.MetricKind.Cos, 1) as {
      keys: BigUint64Array
      distances: Float32Array
    }
    return Array.from(matches.keys, (key, i) => ({ row: Number(key), distance: matches.distances[i] as number }))
  }

  /** The `count` nearest rows among those `where` selects. */
  private async nearestMatching(state: ProjectState, query: Float32Array, count: number, where: ReturnType<typeof projectWhere>): Promise<Candidate[]> {
    const { store } = state
    // One read of the passing ids, up to one more than are searched exactly.
    const limit = this.options.exactSearchMaxRows + 1
    let passing = (await sql<{ id: number }>`select id from embeddings where ${where} limit ${limit}`.execute(this.database.db)).rows
    const matching = passing.length
    if (matching === 0) return []
    if (matching < limit || !state.index) {
      // Few rows pass (or there is no index): score exactly the rows that pass.
      if (matching === limit) passing = (await sql<{ id: number }>`select id from embeddings where ${where}`.execute(this.database.db)).rows
      return exactOver(store, query, passing.map((r) => store.row(Number(r.id))).filter((row): row is number => row !== undefined), count)
    }
    // Many pass: ask the index for more neighbours than needed, keep those that pass, and ask
    // for more until enough do (or the whole project has been asked for).
    const index = state.index
    const unit = normalized(query)
    let k = Math.min(store.count, Math.ceil(((count * CANDIDATES_PER_RESULT * store.count) / Math.max(1, matching)) * 1.5) + 16)
    for (;;) {
      const matches = index.search(unit, k, 1)
      const ids = Array.from(matches.keys, Number)
      const found = await sql<{ id: number }>`select id from embeddings where ${where} and id = any(${ids}::bigint[])`.execute(this.database.db)
      const pass = new Set(found.rows.map((r) => Number(r.id)))
      const candidates: Candidate[] = []
      for (let i = 0; i < ids.length; i++) {
        const row = store.row(ids[i] as number)
        if (row !== undefined && pass.has(ids[i] as number)) candidates.push({ row, distance: matches.distances[i] as number })
      }
      // Enough candidates to rescore exactly (search() ranks them), or nothing more to ask.
      if (candidates.length >= count * CANDIDATES_PER_RESULT || k >= store.count) return candidates
      k = Math.min(store.count, k * 4)
    }
  }

  private async details(ids: number[]) {
    if (ids.length === 0) return new Map<number, { text: string | null; metadata: unknown }>()
    const rows = await this.database.db.selectFrom('embeddings').select(['id', 'text', 'metadata']).where('id', '=', sql<number>`any(${ids}::bigint[])`).execute()
    return new Map(rows.map((row) => [Number(row.id), row]))
  }

  // --- keeping each project current ---------------------------------------------------------

  /** The project as of now: loaded if needed, and caught up with every committed change. */
  private async current(project: SearchProject): Promise<ProjectState> {
    let state = this.projects.get(project.id)
    if (state && state.dimensions !== project.dimensions) {
      this.forget(state)
      state = undefined
    }
    if (!state) state = await this.load(project)
    // Only this process writes to the embedded database; on a server, others may have.
    if (state.dirty || this.database.kind === 'postgres') await this.catchUp(state)
    state = this.projects.get(project.id) ?? state
    state.lastUsed = performance.now()
    return state
  }

  /**
   * Keeps the projects held within LLMBASE_NATIVE_MEMORY: unloads the least recently searched
   * (saving their snapshot first), never the one just loaded. An unloaded project is loaded
   * again from its snapshot at its next search.
   */
  private async evict(keep: ProjectState): Promise<void> {
    const bytes = (state: ProjectState) => state.store.bytes + (state.index ? state.index.size() * (state.dimensions + 8 * this.options.m + 64) : 0)
    let total = [...this.projects.values()].reduce((sum, state) => sum + bytes(state), 0)
    const byAge = [...this.projects.values()].filter((state) => state !== keep && !state.building).sort((a, b) => a.lastUsed - b.lastUsed)
    for (const state of byAge) {
      if (total <= this.options.nativeMemoryBytes) return
      if (state.unsaved) await this.save(state).catch((error) => this.logger.warn({ err: error, project_id: state.id }, 'saving the vector index failed'))
      this.forget(state)
      total -= bytes(state)
      this.logger.info({ project_id: state.id }, 'vector index unloaded to stay within LLMBASE_NATIVE_MEMORY')
    }
  }

  private load(project: SearchProject): Promise<ProjectState> {
    let loading = this.loading.get(project.id)
    if (!loading) {
      loading = this.loadNow(project).finally(() => this.loading.delete(project.id))
      this.loading.set(project.id, loading)
    }
    return loading
  }

  private async loadNow(project: SearchProject): Promise<ProjectState> {
    const head = await readHead(this.database.db, project.id)
    if (!head) throw new Error(`project ${project.id} is gone`)
    const state = (await this.fromSnapshot(project, head)) ?? (await this.fromDatabase(project, head))
    this.projects.set(project.id, state)
    // A snapshot is as old as its last save: read what changed since.
    state.dirty = true
    await this.catchUp(state)
    this.maybeBuild(state, 0)
    await this.evict(state)
    return state
  }

  private async fromSnapshot(project: SearchProject, head: ProjectHead): Promise<ProjectState | null> {
    const dir = snapshotDir(this.options.directory, project.id)
    const loaded = await loadStore(dir)
    if (!loaded) return null
    const reject = (problem: string) => {
      this.logger.warn({ project_id: project.id, problem }, 'the saved vector index is unusable; reading the project from the database')
      return null
    }
    if ('problem' in loaded) return reject(loaded.problem)
    const { manifest, store } = loaded
    if (manifest.projectId !== project.id || manifest.createdAt !== head.createdAt) return reject('it belongs to an earlier project with the same id')
    if (manifest.dimensions !== project.dimensions) return reject('the project has other dimensions now')
    if (manifest.seq > head.seq || manifest.seq < head.clearedSeq) return reject('the project was emptied since')
    const state = newState(project.id, head.createdAt, store, manifest.seq)
    if (manifest.index) {
      if (!(await checkIndexFile(dir, manifest.index))) return reject('index.usearch is damaged or missing')
      const index = this.newIndex(project.dimensions)
      index.load(indexFile(dir))
      if (index.size() !== store.count) return reject('index.usearch does not match the saved vectors')
      state.index = index
      state.indexRows = store.count
    }
    this.logger.info({ project_id: project.id, rows: store.count, indexed: state.index !== null }, 'vector index loaded from the data folder')
    return state
  }

  private async fromDatabase(project: SearchProject, head: ProjectHead): Promise<ProjectState> {
    const store = new VectorStore(project.dimensions, Math.max(1024, project.embeddingCount))
    let after = 0
    for (;;) {
      const page = await readPage(this.database.db, project.id, after, head.seq, LOAD_PAGE_ROWS)
      for (const row of page) putRow(store, row)
      if (page.length < LOAD_PAGE_ROWS) break
      after = (page[page.length - 1] as ChangedRow).id
    }
    const state = newState(project.id, head.createdAt, store, head.seq)
    state.unsaved = true
    return state
  }

  private async catchUp(state: ProjectState): Promise<void> {
    while (state.syncing) await state.syncing
    if (this.database.kind !== 'postgres' && !state.dirty) return
    state.syncing = this.catchUpNow(state).finally(() => {
      state.syncing = null
    })
    await state.syncing
  }

  private async catchUpNow(state: ProjectState): Promise<void> {
    // Cleared first: a write that commits from here on marks the project again.
    state.dirty = false
    const head = await readHead(this.database.db, state.id)
    if (!head || head.createdAt !== state.createdAt || head.seq < state.seq || head.clearedSeq > state.seq) {
      // Deleted, replaced, or emptied since: start again from the database.
      this.forget(state)
      if (head && head.createdAt === state.createdAt) {
        const fresh = await this.fromDatabase({ id: state.id, dimensions: state.dimensions, embeddingCount: 0 }, head)
        this.projects.set(state.id, fresh)
        this.maybeBuild(fresh, 0)
      }
      return
    }
    if (head.seq === state.seq) return
    const { written, deleted } = await readChanges(this.database.db, state.id, state.seq, head.seq)
    const events = [...written.map((row) => ({ seq: row.seq, row, id: row.id })), ...deleted.map((d) => ({ seq: d.seq, row: null, id: Number(d.id) }))].sort(
      (a, b) => a.seq - b.seq,
    )
    const grow = state.index !== null && events.length > Math.max(INCREMENTAL_MAX_ROWS, state.store.count / 10)
    if (grow) this.dropIndex(state)
    for (const event of events) {
      if (event.row) putRow(state.store, event.row)
      else {
        const { moved } = state.store.delete(event.id)
        if (moved !== undefined) state.touchedDuringBuild?.add(moved)
      }
      state.touchedDuringBuild?.add(event.id)
      if (state.index) this.updateIndex(state, event.id)
    }
    state.seq = head.seq
    state.unsaved = true
    this.scheduleSave(state)
    this.maybeBuild(state, this.options.buildDelayMs)
  }

  /** Brings one id of the index in line with the store. */
  private updateIndex(state: ProjectState, id: number): void {
    const index = state.index as UsearchIndex
    const key = BigInt(id)
    if (index.contains(key)) {
      index.remove(key)
      state.indexChurn++
    }
    const row = state.store.row(id)
    if (row !== undefined) index.add(key, normalized(state.store.vector(row)), 1)
  }

  private dropIndex(state: ProjectState): void {
    state.index = null
    state.indexRows = 0
    state.indexChurn = 0
  }

  // --- the HNSW index -----------------------------------------------------------------------

  private newIndex(dimensions: number): UsearchIndex {
    const { Index, MetricKind, ScalarKind } = this.usearch
    return new Index({
      dimensions,
      metric: MetricKind.Cos,
      quantization: ScalarKind.I8,
      connectivity: this.options.m,
      expansion_add: this.options.efConstruction,
      expansion_search: this.options.nativeEfSearch,
      multi: false,
    })
  }

  /**
   * Schedules an index build when the project is searched exactly but is too large for it,
   * or when updates and deletions have replaced a fifth of the index (usearch keeps removed
   * nodes in its graph).
   */
  private maybeBuild(state: ProjectState, delayMs: number): void {
    if (this.closed || state.building) return
    const large = state.store.count > this.options.exactSearchMaxRows
    const needed = large && (state.index === null || state.indexChurn > state.indexRows / 5)
    if (!needed) return
    if (state.buildTimer) clearTimeout(state.buildTimer)
    state.buildTimer = setTimeout(() => {
      state.buildTimer = null
      if (this.projects.get(state.id) === state) void this.build(state)
    }, delayMs)
    state.buildTimer.unref()
  }

  private build(state: ProjectState): Promise<void> {
    state.building ??= this.buildNow(state).finally(() => {
      state.building = null
    })
    return state.building
  }

  private async buildNow(state: ProjectState): Promise<void> {
    const dir = snapshotDir(this.options.directory, state.id)
    await mkdir(dir, { recursive: true })
    const path = join(dir, `index.usearch.${process.pid}.tmp`)
    const { store } = state
    const seq = state.seq
    state.touchedDuringBuild = new Set()
    this.logger.info({ project_id: state.id, rows: store.count, dimensions: store.dimensions }, 'building the vector index')
    try {
      const request: BuildRequest = {
        dimensions: store.dimensions,
        ids: store.ids.slice(0, store.count),
        data: await store.copyPacked(),
        connectivity: this.options.m,
        expansionAdd: this.options.efConstruction,
        expansionSearch: this.options.nativeEfSearch,
        threads: this.options.nativeBuildThreads || cpus().length,
        path,
      }
      const rows = request.ids.length // the arrays are handed to the worker
      const result = await this.runWorker(request)
      if (this.closed || this.projects.get(state.id) !== state) return
      const index = this.newIndex(store.dimensions)
      index.load(path)
      state.index = index
      state.indexRows = rows
      state.indexChurn = 0
      state.buildError = null
      // Writes that arrived during the build.
      for (const id of state.touchedDuringBuild) this.updateIndex(state, id)
      this.logger.info({ project_id: state.id, rows, seconds: Math.round(result.seconds * 10) / 10 }, 'vector index ready')
      state.unsaved = true
      if (state.seq === seq && state.touchedDuringBuild.size === 0) await this.save(state, { index: path, result })
      else this.scheduleSave(state)
    } catch (error) {
      if (this.closed) return // stopped by close(); the next start builds again
      state.buildError = 'the index build failed; see the server log'
      this.logger.error({ err: error, project_id: state.id }, 'building the vector index failed; searches stay exact')
    } finally {
      state.touchedDuringBuild = null
      await rm(path, { force: true })
    }
  }

  private runWorker(request: BuildRequest): Promise<BuildResult> {
    return new Promise((resolve, reject) => {
      const worker = buildWorker(request, [request.ids.buffer as ArrayBuffer, request.data.buffer as ArrayBuffer])
      this.workers.add(worker)
      let result: BuildResult | undefined
      worker.once('message', (message: BuildResult) => {
        result = message
      })
      worker.once('error', reject)
      worker.once('exit', (code) => {
        this.workers.delete(worker)
        if (result) resolve(result)
        else reject(new Error(`the index build worker stopped (exit code ${code})`))
      })
    })
  }

  // --- snapshots ----------------------------------------------------------------------------

  private scheduleSave(state: ProjectState): void {
    if (this.closed || state.saveTimer) return
    state.saveTimer = setTimeout(() => {
      state.saveTimer = null
      if (this.projects.get(state.id) === state) void this.save(state).catch((error) => this.logger.warn({ err: error, project_id: state.id }, 'saving the vector index failed'))
    }, this.options.nativeSaveDelayMs)
    state.saveTimer.unref()
  }

  /**
   * Saves the project's store and index. `built`: the file a build just wrote, moved into
   * place instead of written again.
   */
  private save(state: ProjectState, built?: { index: string; result: BuildResult }): Promise<void> {
    const previous = state.saving ?? Promise.resolve()
    state.saving = previous.then(async () => {
      if (!state.unsaved || this.projects.get(state.id) !== state) return
      state.unsaved = false
      const dir = snapshotDir(this.options.directory, state.id)
      await mkdir(dir, { recursive: true })
      let index: { bytes: number; crc: number } | null = null
      if (state.index) {
        if (built) {
          await rename(built.index, indexFile(dir))
          index = { bytes: built.result.bytes, crc: built.result.crc }
        } else {
          const temporary = join(dir, `index.usearch.${process.pid}.save`)
          state.index.save(temporary)
          index = await fileCrc(temporary)
          await rename(temporary, indexFile(dir))
        }
      }
      await saveStore(dir, state.store, { projectId: state.id, createdAt: state.createdAt, seq: state.seq, index })
    })
    return state.saving
  }

  private forget(state: ProjectState): void {
    if (this.projects.get(state.id) === state) this.projects.delete(state.id)
    if (state.buildTimer) clearTimeout(state.buildTimer)
    if (state.saveTimer) clearTimeout(state.saveTimer)
    state.buildTimer = null
    state.saveTimer = null
  }

  // --- the engine interface -----------------------------------------------------------------

  projectChanged(projectId: number): void {
    const state = this.projects.get(projectId)
    if (state) state.dirty = true
  }

  async projectCleared(projectId: number): Promise<void> {
    const state = this.projects.get(projectId)
    if (state) {
      this.forget(state)
      await state.saving?.catch(() => {})
    }
    await removeSnapshot(snapshotDir(this.options.directory, projectId))
  }

  async indexStatus(project: SearchProject): Promise<IndexStatus> {
    const state = await this.current(project)
    const indexed = state.index !== null && state.store.count > this.options.exactSearchMaxRows
    return {
      state: state.building ? 'building' : state.index ? 'ready' : state.buildError ? 'failed' : 'none',
      search: indexed ? 'index' : 'exact',
      rows_at_build: state.index ? state.indexRows : null,
      error: state.buildError,
    }
  }

  /** Waits for running builds and saves what changed, so the next start reads little. */
  async close(): Promise<void> {
    this.closed = true
    const states = [...this.projects.values()]
    for (const state of states) {
      if (state.buildTimer) clearTimeout(state.buildTimer)
      if (state.saveTimer) clearTimeout(state.saveTimer)
    }
    for (const worker of this.workers) await worker.terminate()
    for (const state of states) {
      await state.building?.catch(() => {})
      await state.saving?.catch(() => {})
      if (state.unsaved) await this.save(state).catch((error) => this.logger.warn({ err: error, project_id: state.id }, 'saving the vector index failed'))
    }
  }
}

/**
 * The worker that builds an index. Run from TypeScript sources (tests, `npm run dev`), the
 * worker registers tsx itself: Node 20 does not apply `--import` hooks to a worker's entry.
 */
function buildWorker(request: BuildRequest, transferList: ArrayBuffer[]): Worker {
  // Not the server's flags (--inspect, --cpu-prof…): the worker needs none, and some conflict.
  // The copies of ids and vectors are handed over, not copied again.
  const options = { workerData: request, transferList, execArgv: [] }
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./build-worker.js', import.meta.url), options)
  const entry = new URL('./build-worker.ts', import.meta.url).href
  const tsx = import.meta.resolve('tsx/esm/api')
  const code = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}) })`
  return new Worker(code, { ...options, eval: true })
}

function newState(id: number, createdAt: string, store: VectorStore, seq: number): ProjectState {
  return {
    id,
    createdAt,
    dimensions: store.dimensions,
    seq,
    store,
    index: null,
    indexRows: 0,
    indexChurn: 0,
    touchedDuringBuild: null,
    building: null,
    buildTimer: null,
    buildError: null,
    dirty: false,
    syncing: null,
    unsaved: false,
    saveTimer: null,
    saving: null,
    lastUsed: performance.now(),
  }
}

const scratch = new Map<number, Float32Array>()

function putRow(store: VectorStore, row: ChangedRow): void {
  let vector = scratch.get(store.dimensions)
  if (!vector) {
    vector = new Float32Array(store.dimensions)
    scratch.set(store.dimensions, vector)
  }
  decodeVectorInto(row.vector, vector, 0)
  store.put(Number(row.id), row.text_id, vector)
}

/** Cosine similarity in double precision, so both engines report the same figure for the same pair. */
function similarity(a: Float32Array, b: Float32Array): number {
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number
    const y = b[i] as number
    dot += x * y
    na += x * x
    nb += y * y
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb)
}

/** The `count` rows of `rows` nearest to `query`, scored exactly. */
function exactOver(store: VectorStore, query: Float32Array, rows: number[], count: number): Candidate[] {
  const scored = rows.map((row) => ({ row, distance: 1 - similarity(query, store.vector(row)) }))
  scored.sort((a, b) => a.distance - b.distance)
  return scored.slice(0, count)
}
