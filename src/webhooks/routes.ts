import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Executor } from '../db/database.js'
import type { EgressPolicy } from '../egress/policy.js'
import type { JobQueue } from '../jobs/queue.js'
import type { Keyring } from '../secrets/keyring.js'

export const webhookRoutes: FastifyPluginAsyncTypebox<{ db: Executor; keyring: Keyring; queue: JobQueue; egress: EgressPolicy }> = async () => {}
