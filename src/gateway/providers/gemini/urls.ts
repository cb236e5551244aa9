/** Splits off the query (an API key may sit there) so the operation suffix can be edited. */
function splitQuery(url: string): [string, string] {
  const at = url.indexOf('?')
  return at === -1 ? [url, ''] : [url.slice(0, at), url.slice(at)]
}

/** Streaming is a sibling operation, and `alt=sse` makes it SSE instead of one JSON array. */
export function streamUrl(endpoint: string): string {
  const [path, query] = splitQuery(endpoint)
  const streamPath = path.replace(/:generateContent$/, ':streamGenerateContent')
  if (/(^|[?&])alt=sse(&|$)/.test(query)) return streamPath + query
  return `${streamPath}${query ? `${query}&` : '?'}alt=sse`
}

/** Embedding instances may be registered with either operation; calls always go in batches. */
export function batchEmbedUrl(endpoint: string): string {
  const [path, query] = splitQuery(endpoint)
  if (path.endsWith(':batchEmbedContents')) return endpoint
  if (path.endsWith(':embedContent')) return path.replace(/:embedContent$/, ':batchEmbedContents') + query
  return `${path}:batchEmbedContents${query}`
}
