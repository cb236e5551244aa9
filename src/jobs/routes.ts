import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Executor } from '../db/database.js'
import type { EgressPolicy } from '../egress/policy.js'
import type { JobQueue } from './queue.js'

export const jobRoutes: FastifyPluginAsyncTypebox<{ db: Executor; queue: JobQueue; egress: EgressPolicy }> = async () => {}
