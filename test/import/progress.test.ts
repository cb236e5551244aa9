import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createProgress } from '../../src/cli-progress.js'

/** A stream that records what is written, on a terminal or not. */
function stream(isTTY: boolean) {
  const written: string[] = []
  return { written, stream: { isTTY, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream }
}

describe('progress of a long command', () => {
  it('redraws one bar in place on a terminal, ending each step with a newline', () => {
    const { written, stream: out } = stream(true)
    const progress = createProgress(out)
    progress.step('embeddings', 4)
    progress.advance(1)
    progress.advance(3)
    progress.finish()
    assert.deepEqual(written, [
      '\r\x1b[2Kembeddings: [------------------------] 0/4 0%',
      '\r\x1b[2Kembeddings: [######------------------] 1/4 25%',
      '\r\x1b[2Kembeddings: [########################] 4/4 100%',
      '\r\x1b[2Kembeddings: [########################] 4/4 100%\n',
    ])
  })

  it('writes plain lines elsewhere: the first and last of a step, and one per tenth between', () => {
    const { written, stream: out } = stream(false)
    const progress = createProgress(out)
    progress.step('users', 100)
    for (let i = 0; i < 100; i++) progress.advance(1)
    progress.step('projects', 0)
    progress.finish()
    assert.deepEqual(written, [
      'users: 0/100 0%\n',
      ...Array.from({ length: 10 }, (_, i) => `users: ${(i + 1) * 10}/100 ${(i + 1) * 10}%\n`),
      'projects: 0\n',
    ])
  })
})
