import { EventEmitter } from 'node:events'
import pg from 'pg'
import type { Logger } from 'pino'

/**
 * Wakes idle workers when there is something to do, so they need not poll often. A message is
 * `''` (new or newly due jobs) or `cancel:<job id>` (stop that job if you run it).
 *
 * On a PostgreSQL server the messages travel by LISTEN/NOTIFY on the channel `llmbase_jobs`
 * and reach every process. The embedded database serves one process (the data folder is
 * locked), so there they stay in the process. In both, a message from this process is handed
 * to this process's workers directly, without a round trip.
 */
export interface Wakeups {
  notify(message: string): void
  subscribe(listener: (message: string) => void): () => void
  close(): Promise<void>
}

export const WAKEUP_CHANNEL = 'llmbase_jobs'

export class LocalWakeups implements Wakeups {
  protected readonly emitter = new EventEmitter()

  constructor() {
    this.emitter.setMaxListeners(0)
  }

  notify(message: string) {
    this.emitter.emit('message', message)
  }

  subscribe(listener: (message: string) => void) {
    this.emitter.on('message', listener)
    return () => {
      this.emitter.off('message', listener)
    }
  }

  async close() {
    this.emitter.removeAllListeners()
  }
}

/**
 * LISTEN on a connection of its own (a pooled connection could be handed to someone else).
 * When the connection drops it reconnects with backoff; meanwhile workers fall back to their
 * polling interval, so nothing waits longer than that.
 */
export class PostgresWakeups extends LocalWakeups {
  private client: pg.Client | null = null
  private closed = false
  private retryMs = 250
  private sending = false
  private again = false
  private readonly notifier: pg.Pool

  constructor(
    private readonly connectionString: string,
    private readonly logger: Logger,
  ) {
    super()
    // NOTIFY goes through a small pool of its own so that it never waits behind queries.
    this.notifier = new pg.Pool({ connectionString, max: 2, application_name: 'llmbase-notify' })
    this.notifier.on('error', () => {})
  }

  async start() {
    await this.connect()
  }

  override notify(message: string) {
    super.notify(message)
    if (this.closed) return
    if (message === '') {
      // "There is work" needs saying once, not once per job: while one NOTIFY is on its way,
      // later ones fold into a single follow-up, so a burst of enqueues costs two statements.
      if (this.sending) {
        this.again = true
        return
      }
      this.sending = true
    }
    this.notifier
      .query('select pg_notify($1, $2)', [WAKEUP_CHANNEL, message])
      .catch((error: unknown) => this.logger.debug({ err: error }, 'job wake-up not sent; other processes will poll'))
      .finally(() => {
        if (message !== '') return
        this.sending = false
        if (this.again) {
          this.again = false
          this.notify('')
        }
      })
  }

  override async close() {
    this.closed = true
    await super.close()
    await this.client?.end().catch(() => {})
    await this.notifier.end().catch(() => {})
  }

  private async connect(): Promise<void> {
    if (this.closed) return
    const client = new pg.Client({ connectionString: this.connectionString, application_name: 'llmbase-listen' })
    client.on('notification', (message) => {
      if (message.channel === WAKEUP_CHANNEL) this.emitter.emit('message', message.payload ?? '')
    })
    client.on('error', (error) => {
      this.logger.warn({ err: error }, 'job wake-up connection lost; reconnecting (workers poll meanwhile)')
      this.client = null
      client.end().catch(() => {})
      this.scheduleReconnect()
    })
    try {
      await client.connect()
      await client.query(`listen ${WAKEUP_CHANNEL}`)
      this.client = client
      this.retryMs = 250
      // Jobs added while we were not listening are found by the next poll; wake now instead.
      this.emitter.emit('message', '')
    } catch (error) {
      client.end().catch(() => {})
      if (this.closed) return
      this.logger.warn({ err: error }, 'could not LISTEN for job wake-ups; retrying (workers poll meanwhile)')
      this.scheduleReconnect()
    }
  }

  private scheduleReconnect() {
    if (this.closed) return
    const delay = this.retryMs
    this.retryMs = Math.min(this.retryMs * 2, 30_000)
    setTimeout(() => void this.connect(), delay).unref()
  }
}
