import { LRUCache } from 'lru-cache'
import type { Executor } from '../db/database.js'
import { findProject, type ProjectView } from './queries.js'

/**
 * Finds projects for the read path (searches, listings) with a one-second memory: a search
 * loop then costs one database round trip per request instead of two. The server forgets
 * everything it remembered whenever a request that may write finishes (see app.ts), so its
 * own changes show at once; another server's changes show within a second, as for API keys.
 */
export class ProjectLookup {
  private readonly cache = new LRUCache<string, { project: ProjectView | null }>({ max: 10_000, ttl: 1_000 })

  constructor(private readonly db: Executor) {}

  async find(ownerHandle: string, handle: string, shareUserId: number | null): Promise<ProjectView | undefined> {
    const key = `${ownerHandle}\u0000${handle}\u0000${shareUserId ?? ''}`
    const cached = this.cache.get(key)
    if (cached) return cached.project ?? undefined
    const project = await findProject(this.db, ownerHandle, handle, shareUserId)
    this.cache.set(key, { project: project ?? null })
    return project
  }

  clear(): void {
    this.cache.clear()
  }
}
