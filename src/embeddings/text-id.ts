/**
 * How a `text_id` in a URL finds its record (the reference API's deviation D9).
 *
 * The reference re-encoded the path segment with Go's `url.QueryEscape` before looking it up,
 * so only ids uploaded already encoded could be fetched (its test data stores
 * `https%3A%2F%2Fid.salamanca.school%2F…`), and an id such as `doc 1` never could. llmbase
 * looks up the decoded segment as stored first, then its form-encoded form: ids uploaded
 * either way are found, and clients that pre-encode keep working.
 */
export function textIdCandidates(decoded: string): string[] {
  const encoded = queryEscape(decoded)
  return encoded === decoded ? [decoded] : [decoded, encoded]
}

const UNRESERVED = /[A-Za-z0-9\-_.~]/

/** Go's `url.QueryEscape`: every byte but `A-Z a-z 0-9 - _ . ~` as %XX, space as `+`. */
export function queryEscape(value: string): string {
  let out = ''
  for (const byte of Buffer.from(value, 'utf8')) {
    const char = String.fromCharCode(byte)
    if (byte < 0x80 && UNRESERVED.test(char)) out += char
    else if (char === ' ') out += '+'
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}
