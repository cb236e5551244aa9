import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { AppError } from '../http/errors.js'
import type { RequestRow, ResponseRow } from './accounting/log-writer.js'
import { budgetCostOf, costOf, effectivePrices } from './accounting/prices.js'
import type { AttemptOutcome } from './attempts.js'
import type { GatewayCallContext } from './deps.js'
import { adapterFor } from './providers/index.js'
import type { Usage } from './providers/types.js'
import type { Target } from './targets.js'

/** The running record of one client call: its attempts and what it used. */
export class CallRecord {
  readonly id = randomUUID()
  readonly startedAt = new Date()
  readonly started = performance.now()
  readonly responses: ResponseRow[] = []
  instanceId: number | null = null
  usage: Usage | null = null
  cost: number | null = null
  /** What the call counts against spending budgets (see `budgetCostOf`). */
  budgetCost: number | null = null
  ttftMs: number | null = null
  cache: RequestRow['cache'] = 'off'
  /** The client went away before the answer was complete. */
  clientClosed = false
  /**
   * A failure after the answer began (a stream that broke off): the client has its 200 and an
   * error event already, so the call is logged with status 200 and this error.
   */
  failedAfterAnswer: AppError | null = null

  constructor(
    readonly request: GatewayCallContext,
    readonly operation: RequestRow['operation'],
    readonly model: string,
    readonly stream: boolean,
  ) {}

  elapsed() {
    return performance.now() - this.started
  }

  attempt(target: Target, outcome: AttemptOutcome, attemptStarted: Date) {
    if (outcome.ok) this.answered(target, outcome.usage)
    const cost = outcome.ok ? this.cost : outcome.usage ? costOf(outcome.usage, effectivePrices(target.model, target.prices)) : null
    this.responses.push({
      attempt: this.responses.length + 1,
      instance_id: target.instanceId,
      provider: adapterFor(target.apiStandard).name,
      model: target.model,
      status: outcome.status,
      error_code: outcome.error?.code ?? null,
      error_message: outcome.error ? outcome.error.message.slice(0, 1000) : null,
      latency_ms: outcome.latencyMs,
      ttft_ms: outcome.ttftMs,
      prompt_tokens: outcome.usage?.prompt_tokens ?? null,
      completion_tokens: outcome.usage?.completion_tokens ?? null,
      cached_tokens: outcome.usage?.cached_tokens ?? null,
      cost_usd: cost,
      created_at: attemptStarted,
    })
  }

  /** Records the usage of the attempt that answered. */
  answered(target: Target, usage: Usage | null) {
    this.instanceId = target.instanceId
    this.usage = usage
    this.cost = usage ? costOf(usage, effectivePrices(target.model, target.prices)) : null
    this.budgetCost = usage ? budgetCostOf(usage, target.model, target.prices) : null
  }
}
