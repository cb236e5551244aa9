import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SseParser, formatSse } from '../../src/gateway/sse.js'
import { awkwardSplits, parseSse } from './fixtures/helpers.js'

describe('SseParser', () => {
  it('reads event names, data, and ignores comments, ids and retries', () => {
    const text = ': keep-alive\nevent: message_start\nid: 7\nretry: 1000\ndata: {"a":1}\n\ndata: plain\n\n'
    assert.deepEqual(parseSse([text]), [{ event: 'message_start', data: '{"a":1}' }, { data: 'plain' }])
  })

  it('joins several data lines with a line feed', () => {
    assert.deepEqual(parseSse(['data: first\ndata: second\ndata:\ndata:  indented\n\n']), [{ data: 'first\nsecond\n\n indented' }])
  })

  it('accepts \\r\\n and a lone \\r as line ends', () => {
    assert.deepEqual(parseSse(['event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\r']), [
      { event: 'a', data: '1' },
      { event: 'b', data: '2' },
    ])
  })

  it('does not read a \\r\\n split across chunks as two line ends', () => {
    // A second line end would dispatch "1" early and split the event in two.
    assert.deepEqual(parseSse(['data: 1\r', '\ndata: 2\r\n\r\n']), [{ data: '1\n2' }])
  })

  it('reads a field without a colon as a field with an empty value, and removes one space only', () => {
    assert.deepEqual(parseSse(['data\ndata:x\ndata:  y\n\n']), [{ data: '\nx\n y' }])
  })

  it('dispatches nothing for an event with no data, and forgets its name', () => {
    assert.deepEqual(parseSse(['event: ping\n\ndata: after\n\n']), [{ data: 'after' }])
  })

  it('drops a byte order mark at the start of the stream only', () => {
    assert.deepEqual(parseSse(['\uFEFFdata: a\n\n', 'data: \uFEFFb\n\n']), [{ data: 'a' }, { data: '\uFEFFb' }])
  })

  it('gives the same events however the stream is split', () => {
    const text = 'event: one\r\ndata: {"text":"Zürich, 9 °C"}\r\n\r\n: comment\n\nevent: two\ndata: a\ndata: b\n\n'
    const expected = [
      { event: 'one', data: '{"text":"Zürich, 9 °C"}' },
      { event: 'two', data: 'a\nb' },
    ]
    for (const [how, chunks] of awkwardSplits(text)) assert.deepEqual(parseSse(chunks), expected, how)
  })

  it('returns each event from the push that completes it', () => {
    const parser = new SseParser()
    assert.deepEqual(parser.push('data: par'), [])
    assert.deepEqual(parser.push('tial\n'), [])
    assert.deepEqual(parser.push('\ndata: next'), [{ data: 'partial' }])
    assert.deepEqual(parser.end(), [{ data: 'next' }])
  })

  it('dispatches an event left open when the stream ends', () => {
    assert.deepEqual(parseSse(['data: last\n']), [{ data: 'last' }])
    assert.deepEqual(parseSse(['data: last']), [{ data: 'last' }])
    assert.deepEqual(parseSse(['event: x\n']), [])
  })
})

describe('formatSse', () => {
  it('writes data, and the event name when given', () => {
    assert.equal(formatSse('{"a":1}'), 'data: {"a":1}\n\n')
    assert.equal(formatSse('{"a":1}', 'message_start'), 'event: message_start\ndata: {"a":1}\n\n')
  })

  it('writes data with line ends as several data lines, which the parser joins back', () => {
    const written = formatSse('one\ntwo\r\nthree', 'x')
    assert.equal(written, 'event: x\ndata: one\ndata: two\ndata: three\n\n')
    assert.deepEqual(parseSse([written]), [{ event: 'x', data: 'one\ntwo\nthree' }])
  })
})
